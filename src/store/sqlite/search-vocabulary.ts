import { sql } from 'kysely';
import { trigramsOf } from '../../search/search-index.js';
import type { Db } from '../store.js';

/** Words held in memory over all loaded sessions; the least recently used sessions go beyond it. */
const MAX_WORDS = 300_000;

/** A word the vocabulary offers for a query word, and how many edits apart they are. */
export interface Variant {
  word: string;
  edits: number;
}

/** A word with one letter dropped, at each position. */
function deletesOf(word: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < word.length; i++) out.push(word.slice(0, i) + word.slice(i + 1));
  return out;
}

/** Query words up to this long are also looked up by their one-letter deletions (see `variants`). */
const SHORT = 6;

/**
 * The fewest edits (a letter dropped, added or changed, two neighbours swapped) that turn `query`
 * into some substring of `word` — 0 when `word` contains it — or `max + 1` when more than `max`.
 * Optimal string alignment with a free start and end in `word`.
 */
export function substringEdits(query: string, word: string, max: number): number {
  const m = query.length;
  const n = word.length;
  let prev2 = new Int32Array(n + 1);
  let prev = new Int32Array(n + 1); // row 0: the empty query matches anywhere, at no cost
  let row = new Int32Array(n + 1);
  for (let i = 1; i <= m; i++) {
    row[0] = i;
    let best = i;
    const q = query.charCodeAt(i - 1);
    for (let j = 1; j <= n; j++) {
      const w = word.charCodeAt(j - 1);
      let d = Math.min(prev[j - 1]! + (q === w ? 0 : 1), prev[j]! + 1, row[j - 1]! + 1);
      if (i > 1 && j > 1 && q === word.charCodeAt(j - 2) && query.charCodeAt(i - 2) === w)
        d = Math.min(d, prev2[j - 2]! + 1);
      row[j] = d;
      if (d < best) best = d;
    }
    if (best > max) return max + 1;
    [prev2, prev, row] = [prev, row, prev2];
  }
  let out = max + 1;
  for (let j = 0; j <= n; j++) out = Math.min(out, prev[j]!);
  return out;
}

/**
 * One session's distinct words, with maps of them built on the first typo lookup: by trigram, and
 * the short ones by their one-letter deletions.
 */
export class SessionVocabulary {
  readonly words = new Set<string>();
  private maps: { grams: Map<string, string[]>; deletes: Map<string, string[]> } | undefined;

  /** Adds a word; false when the vocabulary had it. */
  add(word: string): boolean {
    if (this.words.has(word)) return false;
    this.words.add(word);
    if (this.maps !== undefined) this.addToMaps(word);
    return true;
  }

  /**
   * The session's words a query word may mean, closest first, at most `limit`: the word itself,
   * and words holding it or a one-edit typo of it (two edits for words of 8+ letters) — found by
   * the trigrams they share with it (an edit destroys at most three, a swap four), and short words also by
   * their one-letter deletions. Words under three letters are only looked up as they are.
   */
  variants(word: string, limit: number): Variant[] {
    const exact = this.words.has(word);
    if (word.length < 3) return exact ? [{ word, edits: 0 }] : [];
    const maxEdits = word.length >= 8 ? 2 : 1;
    const { grams, deletes } = this.lookupMaps();
    const queryGrams = trigramsOf(word);
    const needed = Math.max(1, queryGrams.length - 4 * maxEdits);
    const shared = new Map<string, number>();
    for (const gram of queryGrams)
      for (const w of grams.get(gram) ?? []) shared.set(w, (shared.get(w) ?? 0) + 1);
    const candidates = new Set<string>();
    for (const [w, n] of shared) if (n >= needed) candidates.add(w);
    // A short word can lose every trigram to one edit; a one-edit typo and its word share a
    // one-letter deletion (or one is the other's).
    if (word.length <= SHORT)
      for (const key of [word, ...deletesOf(word)]) for (const w of deletes.get(key) ?? []) candidates.add(w);
    candidates.delete(word);
    const found: Variant[] = exact ? [{ word, edits: 0 }] : [];
    for (const w of candidates) {
      const edits = substringEdits(word, w, maxEdits);
      if (edits <= maxEdits) found.push({ word: w, edits });
    }
    return found
      .sort(
        (a, b) =>
          a.edits - b.edits ||
          Math.abs(a.word.length - word.length) - Math.abs(b.word.length - word.length) ||
          (a.word < b.word ? -1 : 1),
      )
      .slice(0, limit);
  }

  private lookupMaps(): { grams: Map<string, string[]>; deletes: Map<string, string[]> } {
    if (this.maps === undefined) {
      this.maps = { grams: new Map(), deletes: new Map() };
      for (const word of this.words) this.addToMaps(word);
    }
    return this.maps;
  }

  private addToMaps(word: string): void {
    const { grams, deletes } = this.maps!;
    const push = (map: Map<string, string[]>, key: string) => {
      const list = map.get(key);
      if (list === undefined) map.set(key, [word]);
      else if (list.at(-1) !== word) list.push(word);
    };
    for (const gram of trigramsOf(word)) push(grams, gram);
    if (word.length <= SHORT + 1) for (const key of [word, ...deletesOf(word)]) push(deletes, key);
  }
}

/**
 * The vocabularies of the sessions the index recently wrote or searched, mirrored from
 * `session_search_words` (migration 0011): a session's words are loaded on first use, and every
 * use first reads the rows added since the last one (by any process on the file: rows are added in
 * id order, one writer at a time), so a loaded vocabulary is never behind the table.
 */
export class SearchVocabulary {
  /** Loaded sessions, least recently used first. */
  private readonly sessions = new Map<number, SessionVocabulary>();
  private words = 0;
  /** Every row up to this id is in each loaded session's words. */
  private syncedId: number | undefined;

  /** The vocabularies of these sessions' keys, loaded and up to date. */
  async of(db: Db, keys: Iterable<number>): Promise<Map<number, SessionVocabulary>> {
    await this.sync(db);
    const out = new Map<number, SessionVocabulary>();
    for (const key of keys) {
      let vocabulary = this.sessions.get(key);
      if (vocabulary === undefined) {
        vocabulary = new SessionVocabulary();
        const rows = await sql<{
          word: string;
        }>`SELECT word FROM session_search_words WHERE key = ${key}`.execute(db);
        for (const row of rows.rows) vocabulary.words.add(row.word);
        this.words += vocabulary.words.size;
      } else {
        this.sessions.delete(key);
      }
      this.sessions.set(key, vocabulary);
      out.set(key, vocabulary);
    }
    this.evict(out);
    return out;
  }

  private async sync(db: Db): Promise<void> {
    if (this.syncedId === undefined) {
      const top = await sql<{ id: number | null }>`SELECT max(id) AS id FROM session_search_words`.execute(
        db,
      );
      this.syncedId = top.rows[0]?.id ?? 0;
      return;
    }
    const rows = await sql<{ id: number; key: number; word: string }>`SELECT id, key, word
      FROM session_search_words WHERE id > ${this.syncedId} ORDER BY id`.execute(db);
    for (const row of rows.rows) {
      if (this.sessions.get(row.key)?.add(row.word)) this.words++;
      this.syncedId = row.id;
    }
  }

  private evict(keep: Map<number, SessionVocabulary>): void {
    for (const [key, vocabulary] of this.sessions) {
      if (this.words <= MAX_WORDS) return;
      if (keep.has(key)) continue;
      this.sessions.delete(key);
      this.words -= vocabulary.words.size;
    }
  }
}
