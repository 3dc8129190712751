/**
 * partial_ratio, exact and fast: the best `ratio` (100 × 2·LCS / total length, i.e. one minus the
 * normalized indel distance) of the shorter string (the needle, m code units) against every window
 * of the longer one as long as the needle. RapidFuzz's `partial_ratio` also tries the prefixes and
 * suffixes of the text shorter than the needle; those are left out on purpose: their smaller
 * denominator scores a phrase at the very start or end of a message above the same phrase inside
 * one (90 against 88 for "databse migraton" and "database migration …"), so a message's score
 * would depend on where in it the phrase sits, and ranking would prefer messages that start with it.
 *
 * fuzzball's `partial_ratio` tries only the windows that start at a difflib matching block, and
 * difflib's "autojunk" drops the frequent characters of texts over 200 characters from the
 * matching, so it misses good windows and under-scores. Here the LCS of a window is Hyyrö's
 * bit-parallel algorithm (one 32-bit word per step for needles up to 32 code units, several words
 * beyond), and the full windows are tried highest bound first — the bound of their LCS being the
 * multiset intersection of their code units with the needle's, kept as the window slides — until
 * no bound can beat the best found. A few µs for a typo query against a 230-character message.
 *
 * Exact up to WORK_BUDGET; past it (a long query against a long text) the best of the most
 * promising windows. Strings are compared as UTF-16 code units, as fuzzball does without its
 * `astral` option: a character outside the BMP counts as two.
 */

/** Scratch, grown on demand and reused: the search scores its candidates one after another. */
const scratch = {
  /** Per haystack position: the needle's slot (its distinct code units, from 1) there, or 0. */
  slotAt: new Int32Array(512),
  /** Full windows bucketed by their LCS bound: the first end of each bound, the next of each end. */
  head: new Int32Array(66),
  next: new Int32Array(512),
  /** Per slot × word: the needle's positions holding the slot's code unit. */
  masks: new Int32Array(64),
  /** Per slot: how many more of it the needle holds than the current window (may go below 0). */
  deficit: new Int32Array(64),
  /** Hyyrö's V for needles over one word. */
  vector: new Int32Array(4),
};
/**
 * Code unit → the needle's slot, or 0 (reset after each call): a table over all 65,536 (256 KB)
 * costs one load a code unit, where a Map for those past Latin-1 would cost a branch and a lookup.
 * Slot 0 stands for every code unit the needle lacks: its masks are empty and its count 0, so the
 * loops need no branch for them (an empty mask leaves V as it is; a count of 0 never adds to a bound).
 */
const slotOf = new Int32Array(65536);
const ABSENT = 0;

/**
 * Word-steps of LCS one call may spend on full windows (about a millisecond). Realistic queries
 * stay far below it, as the bound prunes most windows; a long query against a long text (500 code
 * units against 100,000: seconds if exact) stops there, with the best of the windows it tried,
 * which were the most promising.
 */
const WORK_BUDGET = 1 << 18;

const grown = (array: Int32Array<ArrayBuffer>, size: number): Int32Array<ArrayBuffer> =>
  array.length >= size ? array : new Int32Array(Math.max(size, array.length * 2));

/** Set bits of a 32-bit integer. */
function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** The low m bits of a word (m ≤ 32). */
const lowBits = (m: number): number => (m === 32 ? -1 : (1 << m) - 1);

/*
 * Hyyrö's LCS: V starts all ones; per code unit c of the other string, with M the needle's
 * positions of c, V ← (V + (V & M)) | (V & ~M); the LCS is the number of zero bits among the
 * needle's m. In one word the arithmetic is on signed 32-bit integers: `|` takes both sides modulo
 * 2^32, which is what the unsigned algorithm needs, and V − (V & M) equals V & ~M (no borrow:
 * V & M is a submask of V).
 */

/** LCS of a needle of m ≤ 32 code units (its masks) and haystack[from, to). */
function lcsOfWord(slotAt: Int32Array, masks: Int32Array, from: number, to: number, m: number): number {
  let v = -1;
  for (let j = from; j < to; j++) {
    const u = v & (masks[slotAt[j] as number] as number);
    v = (v + u) | (v - u);
  }
  return m - popcount(v & lowBits(m));
}

/** The larger LCS of a needle of m ≤ 32 code units and haystack[a, a + m), haystack[b, b + m). */
function lcsOfTwo(slotAt: Int32Array, masks: Int32Array, a: number, b: number, m: number): number {
  let v = -1;
  let w = -1;
  for (let k = 0; k < m; k++) {
    const u = v & (masks[slotAt[a + k] as number] as number);
    const x = w & (masks[slotAt[b + k] as number] as number);
    v = (v + u) | (v - u);
    w = (w + x) | (w - x);
  }
  const low = lowBits(m);
  return m - Math.min(popcount(v & low), popcount(w & low));
}

/** One step over `words` words (least significant first), the carry of V + U carried across. */
function stepWords(v: Int32Array, masks: Int32Array, at: number, words: number): void {
  let carry = 0;
  for (let w = 0; w < words; w++) {
    const x = (v[w] as number) >>> 0;
    const u = (x & (masks[at + w] as number)) >>> 0;
    const sum = x + u + carry;
    carry = sum > 0xffffffff ? 1 : 0;
    v[w] = sum | (x - u);
  }
}

/** Zero bits among the low m of a multi-word V: the LCS. */
function zerosOf(v: Int32Array, words: number, m: number): number {
  let ones = 0;
  for (let w = 0; w < words - 1; w++) ones += popcount(v[w] as number);
  return m - ones - popcount((v[words - 1] as number) & lowBits(m - 32 * (words - 1)));
}

/** LCS of a needle of m > 32 code units (its masks, `words` a slot) and haystack[from, to). */
function lcsOfWords(
  slotAt: Int32Array,
  masks: Int32Array,
  from: number,
  to: number,
  m: number,
  words: number,
): number {
  const v = scratch.vector;
  for (let w = 0; w < words; w++) v[w] = -1;
  for (let j = from; j < to; j++) stepWords(v, masks, (slotAt[j] as number) * words, words);
  return zerosOf(v, words, m);
}

/**
 * Numbers the needle's distinct code units from 1 (in `slotOf`) and sets their masks and counts.
 */
function indexNeedle(needle: string, words: number): void {
  const m = needle.length;
  const masks = (scratch.masks = grown(scratch.masks, (m + 1) * words));
  const deficit = (scratch.deficit = grown(scratch.deficit, m + 1));
  // (Loops rather than fill(): a builtin call costs more than these few words.)
  for (let w = 0; w < words; w++) masks[w] = 0;
  deficit[ABSENT] = 0;
  let slots = 0;
  for (let k = 0; k < m; k++) {
    const c = needle.charCodeAt(k);
    let slot = slotOf[c] as number;
    if (slot === ABSENT) {
      slot = ++slots;
      slotOf[c] = slot;
      for (let w = slot * words; w < slot * words + words; w++) masks[w] = 0;
      deficit[slot] = 0;
    }
    deficit[slot] = (deficit[slot] as number) + 1;
    const at = slot * words + (k >>> 5);
    masks[at] = (masks[at] as number) | (1 << (k & 31));
  }
}

/**
 * One pass over the haystack: the slot at each position, and each full window (by its end j)
 * bucketed by its bound; in bucket 0 when it ends with a code unit the needle lacks (it has the
 * LCS of the window before it, which is at least as long), the first window excepted. Returns the
 * highest bound.
 */
function scanHaystack(haystack: string, m: number): number {
  const n = haystack.length;
  const slotAt = (scratch.slotAt = grown(scratch.slotAt, n));
  const head = (scratch.head = grown(scratch.head, m + 1));
  const next = (scratch.next = grown(scratch.next, n));
  const deficit = scratch.deficit;
  for (let b = 0; b <= m; b++) head[b] = -1;
  // Branch-free, the branches being unpredictable: common += deficit > 0 as a code unit comes in,
  // common −= deficit > 0 as it goes out.
  let common = 0;
  for (let j = 0; j < m - 1; j++) {
    const added = slotOf[haystack.charCodeAt(j)] as number;
    slotAt[j] = added;
    const short = deficit[added] as number;
    common += -short >>> 31;
    deficit[added] = short - 1;
  }
  for (let j = m - 1; j < n; j++) {
    const added = slotOf[haystack.charCodeAt(j)] as number;
    slotAt[j] = added;
    const short = deficit[added] as number;
    common += -short >>> 31;
    deficit[added] = short - 1;
    // 0 when added is ABSENT, except for the first window, which has no window before it.
    const bound = j === m - 1 ? common : common & (-added >> 31);
    next[j] = head[bound] as number;
    head[bound] = j;
    const dropped = slotAt[j - m + 1] as number;
    const restored = (deficit[dropped] as number) + 1;
    deficit[dropped] = restored;
    common -= -restored >>> 31;
  }
  let top = m;
  while (top > 0 && (head[top] as number) < 0) top--;
  return top;
}

/**
 * The best 2·LCS / (|needle| + |window|) over the windows of `haystack` (|needle| ≤ |haystack|),
 * as a fraction in [0, 1] (exact within WORK_BUDGET).
 */
function bestSimilarity(needle: string, haystack: string): number {
  if (haystack.includes(needle)) return 1;
  const m = needle.length;
  const words = (m + 31) >>> 5;
  scratch.vector = grown(scratch.vector, words);
  indexNeedle(needle, words);
  const top = scanHaystack(haystack, m);
  for (let k = 0; k < m; k++) slotOf[needle.charCodeAt(k)] = ABSENT;
  const { slotAt, head, next, masks } = scratch;

  // The best so far, 2·LCS / (m + window length), as integers compared by cross-multiplication.
  let num = 0;
  let den = 1;

  // Full windows, highest bound first: one scores 2·LCS / 2m ≤ bound / m; stop when that cannot
  // beat the best (or at the work budget). Two at a time in one word: their LCS chains are
  // independent, so the CPU runs them side by side.
  let budget = WORK_BUDGET;
  for (let bound = top; bound > 0 && bound * den > num * m && budget > 0; bound--) {
    for (let j = head[bound] as number; j >= 0 && bound * den > num * m && budget > 0;) {
      budget -= 2 * m * words;
      const other = next[j] as number;
      let lcs: number;
      if (words > 1) lcs = lcsOfWords(slotAt, masks, j - m + 1, j + 1, m, words);
      else if (other < 0) lcs = lcsOfWord(slotAt, masks, j - m + 1, j + 1, m);
      else lcs = lcsOfTwo(slotAt, masks, j - m + 1, other - m + 1, m);
      if (lcs * den > num * m) {
        num = 2 * lcs;
        den = 2 * m;
      }
      j = words === 1 && other >= 0 ? (next[other] as number) : other;
    }
  }

  return num / den;
}

/**
 * partial_ratio of the query and the text, as an integer 0–100 (Math.round of the best window's
 * ratio): the shorter string against every window of the longer one as long as it (strings as long
 * as each other: their ratio). 0 when either is empty; 100 when one contains the other.
 */
export function partialRatio(query: string, text: string): number {
  if (query.length === 0 || text.length === 0) return 0;
  const similarity = query.length <= text.length ? bestSimilarity(query, text) : bestSimilarity(text, query);
  // The same expression as fuzzball's `_ratio`, (lensum − indel) / lensum, so equal windows round alike.
  return Math.round(100 * similarity);
}
