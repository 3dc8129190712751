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
