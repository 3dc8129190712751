/**
 * Deterministic English-ish message text for the search benchmark: a ~2000-word vocabulary (common
 * English, technical terms of this domain, and pronounceable filler words), drawn with a Zipf-like
 * distribution from a seeded PRNG, with a few technical phrases mixed in so typo queries have real
 * targets.
 */

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMON = `the of and to a in is it you that he was for on are with as his they be at one have this from or
had by not word but what some we can out other were all there when up use your how said an each she which do
their time if will way about many then them write would like so these her long make thing see him two has look
more day could go come did number sound no most people my over know water than call first who may down side
been now find any new work part take get place made live where after back little only round man year came show
every good me give our under name very through just form sentence great think say help low line differ turn
cause much mean before move right boy old too same tell does set three want air well also play small end put
home read hand port large spell add even land here must big high such follow act why ask men change went light
kind off need house picture try us again animal point mother world near build self earth father head stand own
page should country found answer school grow study still learn plant cover food sun four between state keep eye
never last let thought city tree cross farm hard start might story saw far sea draw left late run while press
close night real life few north open seem together next white children begin got walk example ease paper group
always music those both mark often letter until mile river car feet care second book carry took science eat room
friend began idea fish mountain stop once base hear horse cut sure watch color face wood main enough plain girl
usual young ready above ever red list though feel talk bird soon body dog family direct pose leave song measure
door product black short numeral class wind question happen complete ship area half rock order fire south
problem piece told knew pass since top whole king space heard best hour better true during hundred five remember
step early hold west ground interest reach fast verb sing listen six table travel less morning ten simple several
vowel toward war lay against pattern slow center love person money serve appear road map rain rule govern pull
cold notice voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star box noun
field rest correct able pound done beauty drive stood contain front teach week final gave green quick develop
ocean warm free minute strong special mind behind clear tail produce fact street inch multiply nothing course
stay wheel full force blue object decide surface deep moon island foot system busy test record boat common gold
possible plane stead dry wonder laugh thousand ago ran check game shape equate hot miss brought heat snow tire
bring yes distant fill east paint language among`;

const TECHNICAL = `authentication authorization database migration connection pool query index cache latency throughput
timeout retry backoff deadlock transaction commit rollback schema table column replica primary failover cluster
node shard partition queue worker scheduler cron deployment release rollout canary feature flag config secret
token session cookie header payload request response endpoint handler middleware router server client socket
stream buffer memory leak garbage collector heap stack trace exception error warning logging metrics tracing
dashboard alert incident postmortem outage regression benchmark profile bottleneck optimization refactor
dependency upgrade vulnerability patch hotfix branch merge conflict rebase pipeline build artifact container
kubernetes docker image registry volume network proxy gateway load balancer certificate encryption hashing
password credential permission role policy audit compliance backup restore snapshot checksum integrity
consistency availability durability idempotent concurrency mutex semaphore thread process event message
subscriber publisher webhook callback promise async await serialization json protobuf parser validator sqlite
postgres redis kafka elasticsearch search fuzzy trigram tokenizer ranking relevance embedding vector agent
blackboard handoff finding decision question summary`;

const PHRASES = [
  'connection pool',
  'database migration',
  'authentication service',
  'authentication token',
  'migration script',
  'connection timeout',
  'pool exhaustion',
  'database connection',
  'search index',
  'rate limiter',
];

function fillerWords(random: () => number, count: number, avoid: Set<string>): string[] {
  const onsets = [
    'b',
    'br',
    'c',
    'ch',
    'd',
    'f',
    'fl',
    'g',
    'gr',
    'h',
    'j',
    'k',
    'l',
    'm',
    'n',
    'p',
    'pr',
    'r',
    's',
    'st',
    't',
    'tr',
    'v',
    'w',
    'z',
  ];
  const vowels = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'io', 'ou'];
  const codas = ['', 'n', 'r', 's', 't', 'l', 'nd', 'rt', 'st', 'ck', 'm'];
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const words = new Set<string>();
  while (words.size < count) {
    let word = '';
    const syllables = 1 + Math.floor(random() * 3);
    for (let s = 0; s < syllables; s++)
      word += pick(onsets) + pick(vowels) + (s === syllables - 1 ? pick(codas) : '');
    if (word.length >= 3 && !avoid.has(word)) words.add(word);
  }
  return [...words];
}

export interface Corpus {
  vocabulary: string[];
  message(): string;
}

export function createCorpus(seed = 42, size = 2000): Corpus {
  const random = prng(seed);
  const common = [...new Set(COMMON.split(/\s+/).filter((w) => w.length > 0))];
  const technical = [...new Set(TECHNICAL.split(/\s+/).filter((w) => w.length > 0))];
  const known = new Set([...common, ...technical]);
  const filler = fillerWords(random, Math.max(0, size - known.size), known);
  // Rank order: common words first (frequent), technical terms interleaved in the middle ranks,
  // filler words in the long tail.
  const vocabulary: string[] = [...common.slice(0, 150)];
  const rest = [...common.slice(150)];
  for (let i = 0; i < Math.max(rest.length, technical.length); i++) {
    if (i < technical.length) vocabulary.push(technical[i] as string);
    if (i < rest.length) vocabulary.push(rest[i] as string);
  }
  vocabulary.push(...filler);
  // Zipf(s≈1) via the inverse CDF over precomputed cumulative weights.
  const cumulative = new Float64Array(vocabulary.length);
  let total = 0;
  for (let i = 0; i < vocabulary.length; i++) cumulative[i] = total += 1 / (i + 2);
  const word = (): string => {
    const x = random() * total;
    let lo = 0;
    let hi = vocabulary.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cumulative[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return vocabulary[lo] as string;
  };

  return {
    vocabulary,
    message() {
      const sentences = 1 + Math.floor(random() * 3);
      const out: string[] = [];
      for (let s = 0; s < sentences; s++) {
        const length = 6 + Math.floor(random() * 14);
        const words: string[] = [];
        for (let w = 0; w < length; w++) {
          if (random() < 0.012) words.push(PHRASES[Math.floor(random() * PHRASES.length)] as string);
          else words.push(word());
          if (w > 2 && w < length - 2 && random() < 0.06) words[words.length - 1] += ',';
        }
        const sentence = words.join(' ');
        out.push(`${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}${random() < 0.15 ? '?' : '.'}`);
      }
      return out.join(' ');
    },
  };
}
