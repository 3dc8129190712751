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

/** The query's words (split on white space), as typed. */
const wordsOf = (query: string): string[] => query.split(/\s+/).filter((w) => w.length > 0);

/** Distinct trigrams of each word of 3+ characters (the re-ranker's shortlist counts them; the SQLite vocabulary looks words up by them). */
export function trigramsOf(query: string): string[] {
  const grams = new Set<string>();
  for (const word of wordsOf(query)) {
    const chars = [...word];
    for (let i = 0; i + 3 <= chars.length; i++) grams.add(chars.slice(i, i + 3).join(''));
  }
  return [...grams];
}
