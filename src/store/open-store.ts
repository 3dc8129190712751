import type { DatabaseTarget } from '../config/config.js';
import { openSqliteStore } from './sqlite/sqlite.store.js';
import type { Store } from './store.js';

/** Opens the configured database and brings its schema up to date. */
export async function openStore(target: DatabaseTarget): Promise<Store> {
  if (target.kind === 'sqlite') return openSqliteStore(target.file);
  throw new Error('DATABASE_URL: PostgreSQL support is not built yet; use the SQLite default.');
}
