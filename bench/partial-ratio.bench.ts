/**
 * The search scorer alone: src/search/partial-ratio.ts against fuzzball's partial_ratio (what
 * scoring.ts called before), on 40 lower-cased messages of ~230 characters as the search benchmark
 * seeds them (seed-messages.ts), for its three typo queries and its exact one. Both run in the same
 * process, interleaved (which goes first alternates each round) after a warm-up; the figure is the
 * median round's µs per call. Also counts the texts where the two scores differ.
 *
 * Run: npx tsx bench/partial-ratio.bench.ts   Env: BENCH_ROUNDS (41), BENCH_REPEAT (50 passes a round),
 * BENCH_MIN_CHARS and BENCH_MAX_CHARS (200, 260: the texts' length; under 200, difflib's autojunk is
 * off and fuzzball finds more, and costs more).
 */
import { partial_ratio } from 'fuzzball';
import { partialRatio } from '../src/search/partial-ratio.js';
import { envNumber, table } from './common.js';
import { EXACT_QUERY, TYPO_QUERIES } from './search-queries.js';
import { messageRows } from './seed-messages.js';

const ROUNDS = envNumber('BENCH_ROUNDS', 41);
const REPEAT = envNumber('BENCH_REPEAT', 50);
const MIN_CHARS = envNumber('BENCH_MIN_CHARS', 200);
const MAX_CHARS = envNumber('BENCH_MAX_CHARS', 260);
const QUERIES = [...TYPO_QUERIES, EXACT_QUERY];

/** 40 message texts of MIN_CHARS–MAX_CHARS characters, lower-cased as the scorer sees them. */
function texts(): string[] {
  const out: string[] = [];
  for (const row of messageRows('bench', 'agent', 10_000)) {
    const content = row[2].toLowerCase();
    if (content.length >= MIN_CHARS && content.length <= MAX_CHARS) out.push(content);
    if (out.length === 40) break;
  }
  return out;
}

type Scorer = (query: string, text: string) => number;
const fuzzball: Scorer = (query, text) => partial_ratio(query, text, { full_process: false });

/** µs per call of `scorer` over every text, `REPEAT` times; the checksum keeps the calls alive. */
function pass(scorer: Scorer, query: string, corpus: string[]): { us: number; checksum: number } {
  let checksum = 0;
  const started = performance.now();
  for (let r = 0; r < REPEAT; r++) for (const text of corpus) checksum += scorer(query, text);
  return { us: ((performance.now() - started) * 1000) / (REPEAT * corpus.length), checksum };
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

function main(): void {
  const corpus = texts();
  const mean = corpus.reduce((sum, t) => sum + t.length, 0) / corpus.length;
  console.log(
    `${corpus.length} texts, ${mean.toFixed(0)} characters on average; ${ROUNDS} rounds × ${REPEAT}`,
  );
  for (const query of QUERIES)
    for (let w = 0; w < 5; w++) {
      pass(fuzzball, query, corpus);
      pass(partialRatio, query, corpus);
    }

  const rows: Array<Array<string | number>> = [];
  const all = { ours: [] as number[], theirs: [] as number[] };
  for (const query of QUERIES) {
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        theirs.push(pass(fuzzball, query, corpus).us);
        ours.push(pass(partialRatio, query, corpus).us);
      } else {
        ours.push(pass(partialRatio, query, corpus).us);
        theirs.push(pass(fuzzball, query, corpus).us);
      }
    }
    all.ours.push(...ours);
    all.theirs.push(...theirs);
    // Where the scores differ: ours is the max over a superset of fuzzball's windows. Against
    // fuzzball alone, and against the scorer before (fuzzball, but 100 for a text holding the query).
    const differences = (before: Scorer): string => {
      const deltas = corpus.map((text) => partialRatio(query, text) - before(query, text));
      const higher = deltas.filter((d) => d > 0);
      const lower = deltas.filter((d) => d < 0).length;
      const range = higher.length > 0 ? ` (+${Math.min(...higher)}…+${Math.max(...higher)})` : '';
      return `${higher.length}${range}${lower > 0 ? `, ${lower} lower` : ''}`;
    };
    const [f, o] = [median(theirs), median(ours)];
    rows.push([
      query,
      f.toFixed(2),
      o.toFixed(2),
      `${(f / o).toFixed(1)}×`,
      differences(fuzzball),
      differences((q, text) => (text.includes(q) ? 100 : fuzzball(q, text))),
    ]);
  }
  const [f, o] = [median(all.theirs), median(all.ours)];
  rows.push(['all', f.toFixed(2), o.toFixed(2), `${(f / o).toFixed(1)}×`, '', '']);
  console.log(
    table(
      ['query', 'fuzzball µs/call', 'ours µs/call', 'speed-up', 'ours higher than fuzzball', '…than before'],
      rows,
    ),
  );
}

main();
