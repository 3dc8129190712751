import { describe, expect, it } from 'vitest';
import { createCorpus, prng } from '../bench/corpus.js';
import { SessionVocabulary, substringEdits } from '../src/store/sqlite/search-vocabulary.js';

/** Optimal string alignment distance, the textbook way. */
function osa(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(
        d[i - 1]![j]! + 1,
        d[i]![j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/** Every one-edit typo of a word: a letter dropped, added, changed, or two neighbours swapped. */
function typosOf(word: string): string[] {
  const out = new Set<string>();
  for (let i = 0; i < word.length; i++) {
    out.add(word.slice(0, i) + word.slice(i + 1));
    out.add(`${word.slice(0, i)}q${word.slice(i + 1)}`);
    if (i + 1 < word.length) out.add(word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2));
  }
  for (let i = 0; i <= word.length; i++) out.add(`${word.slice(0, i)}x${word.slice(i)}`);
  out.delete(word);
  return [...out];
}

describe('the search vocabulary', () => {
  it('substringEdits is the distance from the query to the closest substring of the word', () => {
    const random = prng(5);
    const text = (n: number) => Array.from({ length: n }, () => 'abc'[Math.floor(random() * 3)]).join('');
    for (let k = 0; k < 2000; k++) {
      const query = text(1 + Math.floor(random() * 6));
      const word = text(Math.floor(random() * 9));
      let best = osa(query, '');
      for (let i = 0; i <= word.length; i++)
        for (let j = i; j <= word.length; j++) best = Math.min(best, osa(query, word.slice(i, j)));
      for (const max of [0, 1, 2]) expect(substringEdits(query, word, max)).toBe(Math.min(best, max + 1));
    }
  });

  it('offers the intended word for every one-edit typo of a word of 4+ letters, and only close words', () => {
    const vocabulary = new SessionVocabulary();
    const words = [...new Set(createCorpus(42).vocabulary.filter((w) => /^[a-z]{4,}$/.test(w)))];
    for (const word of words) vocabulary.add(word);
    let missed = 0;
    let checked = 0;
    for (const word of words.slice(0, 300)) {
      for (const typo of typosOf(word)) {
        const variants = vocabulary.variants(typo, Number.POSITIVE_INFINITY);
        checked++;
        if (!variants.some((v) => v.word === word)) missed++;
        for (const v of variants) expect(v.edits).toBeLessThanOrEqual(typo.length >= 8 ? 2 : 1);
      }
    }
    expect(checked).toBeGreaterThan(5000);
    expect(missed).toBe(0);
  });

  it('offers words holding the query, exact words first, and short words only as they are', () => {
    const vocabulary = new SessionVocabulary();
    for (const word of ['pool', 'pooling', 'spool', 'db', 'dba']) vocabulary.add(word);
    expect(vocabulary.variants('pool', 10).map((v) => v.word)).toEqual(['pool', 'spool', 'pooling']);
    expect(vocabulary.variants('db', 10)).toEqual([{ word: 'db', edits: 0 }]);
    expect(vocabulary.variants('zz', 10)).toEqual([]);
  });
});
