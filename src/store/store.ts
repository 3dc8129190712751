import type { Kysely } from 'kysely';
import type { SearchIndex } from '../search/search-index.js';
import type { ChangeFeed } from './change-feed.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

/** Kysely handle or a transaction on it: repositories take either as their first argument. */
export type Db = Kysely<Database>;

/**
 * One opened database. Services see only this interface; the dialect-specific parts (connection,
 * pragmas, the search index) live in `store/<dialect>/`.
 */
export interface Store {
  readonly dialect: Dialect;
  readonly db: Db;
  readonly searchIndex: SearchIndex;
  /** Every committed change, in commit order, with wake-ups (docs/change-feed.md). */
  readonly changeFeed: ChangeFeed;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  /** Writes what is pending (e.g. the search index) and closes the connection. */
  close(): Promise<void>;
}
