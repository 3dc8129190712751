import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../store.js';

/**
 * The change log (docs/change-feed.md): one small row per committed change, written in the same
 * transaction as the change, carrying routing keys and a reference — never the content. On SQLite
 * every write transaction begins IMMEDIATE, so writers are serialized and `cursor` (AUTOINCREMENT:
 * never reused, always above every value handed out before) is in commit order. Only the primary
 * key is indexed: readers range-scan it, and every further index would cost each write.
 *
 * SQLite's search index follows the feed from here on (its state row `changes` holds a feed
 * cursor): messages it had not indexed yet get a change row each, in id order, so it finds them.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('changes')
    .addColumn('cursor', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text')
    .addColumn('agent_id', 'text')
    .addColumn('ref', 'text')
    .addColumn('created_at', bigint, (c) => c.notNull())
    .execute();
  if (dialect === 'sqlite') {
    await sql`INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
      SELECT 'message', session_id, sender, CAST(id AS TEXT), created_at FROM messages
      WHERE id > (SELECT last_id FROM search_index_state WHERE name = 'messages') ORDER BY id`.execute(db);
    await sql`UPDATE search_index_state SET name = 'changes', last_id = 0 WHERE name = 'messages'`.execute(
      db,
    );
  }
}
