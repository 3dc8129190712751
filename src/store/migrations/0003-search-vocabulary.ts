import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../store.js';

/** SQLite: a view of the search index's trigram frequencies, so a fuzzy query can use its rarest ones. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect !== 'sqlite') return;
  await sql`CREATE VIRTUAL TABLE message_search_vocab USING fts5vocab(message_search, 'row')`.execute(db);
}
