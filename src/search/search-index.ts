import type { Viewer, Visibility } from '../messages/visibility.js';
import type { MessageRow } from '../store/schema.js';
import type { Db } from '../store/store.js';

export interface CandidateQuery {
  sessionId: string;
  viewer: Viewer;
  /** Lower-cased, trimmed query text. */
  query: string;
  /** Narrows to one visibility (search_scope); never widens the viewer's rule. */
  visibility?: Visibility | undefined;
  searchMetadata: boolean;
  /** Upper bound on rows returned: the re-ranker scores only these. */
  limit: number;
}

/**
 * The dialect-specific half of search: finds a bounded set of messages that loosely match a query,
 * using an index, among the messages the viewer may see. The fuzzy scorer (search.service.ts)
 * ranks them; it never sees a message the viewer could not read.
 */
export interface SearchIndex {
  candidates(db: Db, query: CandidateQuery): Promise<MessageRow[]>;
  /** Brings the index up to date with every committed message (called before a search). */
  catchUp(db: Db): Promise<void>;
}

/*
 * What a query is looked up by, in any index: its words, their trigrams, and for each word the
 * pieces a one-edit typo of it leaves intact (docs/search-scoping.md).
 */

/** The query's words (split on white space), as typed. */
export const wordsOf = (query: string): string[] => query.split(/\s+/).filter((w) => w.length > 0);

/** Distinct trigrams of each word of 3+ characters: typo-tolerant recall for a trigram index. */
export function trigramsOf(query: string): string[] {
  const grams = new Set<string>();
  for (const word of wordsOf(query)) {
    const chars = [...word];
    for (let i = 0; i + 3 <= chars.length; i++) grams.add(chars.slice(i, i + 3).join(''));
  }
  return [...grams];
}

/**
 * Two substrings of a word such that, whatever single edit (a letter dropped, added, changed, or two
 * neighbours swapped) turned the intended word into this one, one of them is still a substring of
 * the intended word: the edit falls either at or after position `mid - 1` (the head `[0, mid - 1)`
 * is intact) or before it (the tail `[mid, end)` is intact, shifted by at most one). Words under 7
 * characters are too short to split into two pieces of a trigram each: the word itself.
 */
export function piecesOf(word: string): string[] {
  const chars = [...word];
  if (chars.length < 3) return [];
  if (chars.length < 7) return [word];
  const mid = Math.ceil((chars.length + 1) / 2);
  return [chars.slice(0, mid - 1).join(''), chars.slice(mid).join('')];
}

/** A piece the intended word must contain, and trigrams of the rest of the word it should contain one of. */
export interface Split {
  intact: string;
  rest: string[];
}

/**
 * A stricter form of piecesOf: each intact piece with the trigrams of the rest of the word, of
 * which the intended word still holds at least one unless the typo destroyed them all (then
 * piecesOf alone finds it). Words under 7 characters: any two of their trigrams.
 */
export function splitsOf(word: string): Split[] {
  const chars = [...word];
  const pieces = piecesOf(word);
  if (pieces.length === 2) {
    const mid = Math.ceil((chars.length + 1) / 2);
    return [
      { intact: pieces[0] as string, rest: trigramsOf(chars.slice(mid - 1).join('')) },
      { intact: pieces[1] as string, rest: trigramsOf(chars.slice(0, mid).join('')) },
    ];
  }
  const grams = trigramsOf(word);
  if (grams.length < 2) return pieces.map((intact) => ({ intact, rest: [] }));
  return grams.slice(0, -1).map((intact, i) => ({ intact, rest: grams.slice(i + 1) }));
}
