import { partial_ratio } from 'fuzzball';
import { describe, expect, it } from 'vitest';
import { createCorpus, prng } from '../bench/corpus.js';
import { typo } from '../bench/search-probes.js';
import { partialRatio } from '../src/search/partial-ratio.js';

/** LCS by the textbook dynamic programme, two rows. */
function lcs(a: string, b: string): number {
  let previous = new Int32Array(b.length + 1);
  let row = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++)
      row[j] =
        a[i - 1] === b[j - 1]
          ? (previous[j - 1] as number) + 1
          : Math.max(previous[j] as number, row[j - 1] as number);
    [previous, row] = [row, previous];
  }
  return previous[b.length] as number;
}

/** The best 2·LCS / (|s1| + |window|) over the windows of s2 as long as s1 (|s1| ≤ |s2|). */
function bestWindow(s1: string, s2: string): number {
  const m = s1.length;
  const n = s2.length;
  const windows: string[] = [];
  for (let i = 0; i + m <= n; i++) windows.push(s2.slice(i, i + m));
  return Math.max(0, ...windows.map((w) => (2 * lcs(s1, w)) / (m + w.length)));
}

/** partial_ratio by brute force, rounded: every window as long as the shorter string. */
function reference(query: string, text: string): number {
  if (query.length === 0 || text.length === 0) return 0;
  const [short, long] = query.length <= text.length ? [query, text] : [text, query];
  return Math.round(100 * bestWindow(short, long));
}

function randomString(random: () => number, alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(random() * alphabet.length)];
  return out;
}

describe('partialRatio', () => {
  it('equals a brute-force RapidFuzz partial_ratio on random strings over small alphabets', () => {
    const random = prng(20240611);
    const alphabets = ['ab', 'ab c', 'abcde ', 'the quick brown fox', 'aé€ b'];
    let checked = 0;
    for (let round = 0; round < 3000; round++) {
      const alphabet = alphabets[round % alphabets.length] as string;
      // Mostly short needles, a fair share past one 32-bit word (33–80), texts up to 400.
      const m = random() < 0.75 ? Math.floor(random() * 33) : 33 + Math.floor(random() * 48);
      const n = random() < 0.6 ? Math.floor(random() * 121) : Math.floor(random() * 401);
      const query = randomString(random, alphabet, m);
      const text = randomString(random, alphabet, n);
      expect(partialRatio(query, text), JSON.stringify([query, text])).toBe(reference(query, text));
      checked++;
    }
    expect(checked).toBe(3000);
  });

  it('equals the brute force at the word boundaries of the bit-parallel LCS (31–33, 63–65)', () => {
    const random = prng(7);
    for (const m of [1, 2, 31, 32, 33, 63, 64, 65]) {
      for (let round = 0; round < 25; round++) {
        const query = randomString(random, 'abc', m);
        for (const n of [m - 1, m, m + 1, 2 * m + 7]) {
          const text = randomString(random, 'abc', Math.max(0, n));
          expect(partialRatio(query, text), JSON.stringify([query, text])).toBe(reference(query, text));
        }
      }
    }
  });

  it('equals the brute force on typo queries in message text, either way round', () => {
    const corpus = createCorpus(42);
    const random = prng(99);
    const words = corpus.vocabulary.filter((w) => /^[a-z]{5,}$/.test(w));
    for (let round = 0; round < 300; round++) {
      const text = corpus.message().toLowerCase();
      const word = words[Math.floor(random() * words.length)] as string;
      const query = round % 3 === 0 ? `${typo(word, random)} ${typo(word, random)}` : typo(word, random);
      expect(partialRatio(query, text), JSON.stringify([query, text])).toBe(reference(query, text));
      expect(partialRatio(text, query)).toBe(partialRatio(query, text));
    }
  });

  it('scores containment 100, empty strings 0, and a query longer than the text by the text', () => {
    expect(partialRatio('authentication', 'the authentication service failed')).toBe(100);
    expect(partialRatio('the authentication service failed', 'authentication')).toBe(100);
    expect(partialRatio('same text', 'same text')).toBe(100);
    expect(partialRatio('', 'anything')).toBe(0);
    expect(partialRatio('anything', '')).toBe(0);
    expect(partialRatio('', '')).toBe(0);
    expect(partialRatio('xyz', 'abcdef')).toBe(0);
  });

  it('scores a one-letter typo in a sentence as RapidFuzz does', () => {
    // The best window of "authentcation" (13) is "authenticatio": LCS 12, 2·12 / 26 = 92.3.
    expect(partialRatio('authentcation', 'we rotated the authentication token today')).toBe(92);
    // "connection poo": LCS 13, 26 / 28 = 92.9.
    expect(partialRatio('conection pool', 'the connection pool ran dry')).toBe(93);
    // Its 16-unit windows lose two: "database migrati" keeps "databse migrat", 28 / 32 = 87.5.
    expect(partialRatio('databse migraton', 'run the database migration first')).toBe(88);
    for (const [query, text] of [
      ['authentcation', 'we rotated the authentication token today'],
      ['conection pool', 'the connection pool ran dry'],
      ['databse migraton', 'run the database migration first'],
    ] as const)
      expect(partialRatio(query, text)).toBe(reference(query, text));
  });

  it('scores a phrase the same wherever it sits in a text (no windows shorter than the query)', () => {
    // Whole strings: LCS 1 of 2 + 2 is 50 (RapidFuzz's prefix window "b" would give 2·1 / 3).
    expect(partialRatio('ab', 'ba')).toBe(50);
    const inside = partialRatio('databse migraton', 'we ran the database migration today');
    expect(partialRatio('databse migraton', 'database migration today')).toBe(inside);
    expect(partialRatio('databse migraton', 'we ran the database migration')).toBe(inside);
  });

  it('compares UTF-16 code units, letters beyond Latin-1 included', () => {
    expect(partialRatio('привет', 'он сказал привет всем')).toBe(100);
    expect(partialRatio('приветт', 'он сказал привет всем')).toBe(
      reference('приветт', 'он сказал привет всем'),
    );
    expect(partialRatio('café crème', 'un cafe creme, merci')).toBe(
      reference('café crème', 'un cafe creme, merci'),
    );
    expect(partialRatio('naïve résumé', 'a naive resume')).toBe(reference('naïve résumé', 'a naive resume'));
    // An astral character is two code units, as in fuzzball: its halves match on their own.
    expect(partialRatio('a😀b', 'xx a😀b yy')).toBe(100);
    expect(partialRatio('a😀c', 'xx a😀b yy')).toBe(reference('a😀c', 'xx a😀b yy'));
  });

  it('bounds its work on a long query against a long text', () => {
    // Exact, this is some 10^9 word-steps (seconds); the work budget stops it at the most promising
    // windows, still scoring like fuzzball.
    const corpus = createCorpus(5);
    let text = '';
    while (text.length < 100_000) text += `${corpus.message().toLowerCase()} `;
    const query = text.slice(50_000, 50_500).replace(/e/g, 'a');
    partialRatio(query, text.slice(0, 1000));
    const started = performance.now();
    const score = partialRatio(query, text);
    expect(performance.now() - started).toBeLessThan(200);
    expect(score).toBeGreaterThanOrEqual(partial_ratio(query, text, { full_process: false }));
  });

  it('scores typo queries in long message text at least as fuzzball does, but for its shorter windows at the end', () => {
    // fuzzball tries a subset of the full-length windows (and rounds each window's ratio before the
    // max, which is monotone), plus windows cut short by the end of the text, which are left out
    // here (see partial-ratio.ts): only those can score above ours, and only a little.
    const corpus = createCorpus(7);
    const random = prng(2024);
    const words = corpus.vocabulary.filter((w) => /^[a-z]{7,}$/.test(w));
    let higher = 0;
    let lower = 0;
    for (let round = 0; round < 1000; round++) {
      const text = `${corpus.message()} ${corpus.message()}`.toLowerCase();
      const query = typo(words[Math.floor(random() * words.length)] as string, random);
      const ours = partialRatio(query, text);
      const theirs = partial_ratio(query, text, { full_process: false });
      if (ours < theirs) {
        lower++;
        // Only an end window can beat ours: fuzzball's score is then that of a suffix of the text.
        const end = text.slice(text.length - query.length + 1);
        expect(theirs - ours, JSON.stringify([query, text])).toBeLessThanOrEqual(5);
        expect(partial_ratio(query, end, { full_process: false }), end).toBeGreaterThan(ours);
      }
      if (ours > theirs) higher++;
    }
    expect(lower).toBeLessThan(20);
    // fuzzball's block-start windows miss the best alignment often on long texts.
    expect(higher).toBeGreaterThan(0);
  });
});
