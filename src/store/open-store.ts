import type { DatabaseTarget } from '../config/config.js';
import { openSqliteStore } from './sqlite/sqlite.store.js';
import type { Store } from './store.js';

export interface StoreOptions {
  /** Called after every query with its SQL and duration (metrics). */
  onQuery?: (sql: string, ms: number) => void;
  /** A failure of the store's background work (SQLite: a WAL checkpoint), for the log. */
  onBackgroundError?: (error: Error) => void;
}

/** Opens the configured database and brings its schema up to date. */
export async function openStore(target: DatabaseTarget, options: StoreOptions = {}): Promise<Store> {
  if (target.kind === 'sqlite') return openSqliteStore(target.file, options);
  // Loaded only when asked for: the embedded default never loads `pg`.
  const { openPostgresStore } = await import('./postgres/pg.store.js');
  return openPostgresStore(target.url, target.poolSize, options);
}
