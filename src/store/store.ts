import type { Kysely } from 'kysely';
import type { SearchIndex } from '../search/search-index.js';
import type { ChangeFeed } from './change-feed.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

/** Kysely handle or a transaction on it: repositories take either as their first argument. */
export type Db = Kysely<Database>;

/**
 * Where services read and write: `db` for reads, `write` for every write. The store decides how a
 * write runs (SQLite: group commit, many writes in one transaction, each in its own savepoint);
 * services never open transactions themselves.
 */
export interface Storage {
  readonly db: Db;
  /** Runs `work` as one atomic write; resolves after it is committed (durable), rejects if rolled back. */
  write<T>(work: (trx: Db) => Promise<T>, options?: WriteOptions): Promise<T>;
}

export interface WriteOptions {
  /**
   * The streams whose client-visible ids the write allocates (`session:<id>` for a message,
   * `inbox:<agent>` for mail). Writers to one stream commit in id order, so a reader paging by id
   * never skips one that commits late. SQLite serializes every writer anyway; PostgreSQL locks the
   * streams before the write's first row.
   */
  streams?: readonly string[];
}

/**
 * One opened database. Services see only this interface; the dialect-specific parts (connection,
 * pragmas, the search index) live in `store/<dialect>/`.
 */
export interface Store extends Storage {
  readonly dialect: Dialect;
  readonly searchIndex: SearchIndex;
  /** Every committed change, in commit order, with wake-ups (docs/change-feed.md). */
  readonly changeFeed: ChangeFeed;
  /**
   * Runs a periodic job (retention) unless another process sharing the database is running it:
   * resolves to undefined then. SQLite: one file, writers serialized — it just runs; PostgreSQL:
   * a session advisory lock named after the job, held while it runs.
   */
  exclusive<T>(job: string, work: () => Promise<T>): Promise<T | undefined>;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  /** Writes what is pending (e.g. the search index) and closes the connection. */
  close(): Promise<void>;
}
