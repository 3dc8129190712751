import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../store.js';

/** Milliseconds since the epoch, in SQLite. */
const NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

/**
 * What records each change (see the table in src/store/change-feed.ts): a trigger per write, so the
 * change row is written by the database in the writer's own statement and transaction — no write
 * can forget it, and it costs no round trip through the query layer. Updates that change nothing a
 * subscriber watches (an agent's last_activity, a key's updated_at alone) record nothing.
 */
const SQLITE_TRIGGERS: Record<string, string> = {
  changes_message: `AFTER INSERT ON messages BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('message', NEW.session_id, NEW.sender, NEW.id, NEW.created_at); END`,
  changes_session_created: `AFTER INSERT ON sessions BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('session', NEW.session_id, NEW.created_by, NEW.status, NEW.created_at); END`,
  changes_session_updated: `AFTER UPDATE OF status, purpose, metadata ON sessions BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('session', NEW.session_id, NULL, NEW.status, NEW.updated_at); END`,
  changes_memory_inserted: `AFTER INSERT ON agent_memory BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('memory', NULLIF(NEW.scope_key, ''), NEW.agent_id, NEW.key, NEW.updated_at); END`,
  changes_memory_updated: `AFTER UPDATE ON agent_memory BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('memory', NULLIF(NEW.scope_key, ''), NEW.agent_id, NEW.key, NEW.updated_at); END`,
  changes_memory_deleted: `AFTER DELETE ON agent_memory BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('memory', NULLIF(OLD.scope_key, ''), OLD.agent_id, OLD.key, ${NOW_MS}); END`,
  changes_mail: `AFTER INSERT ON mail BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('mail', NULL, NEW.to_agent, NEW.id, NEW.created_at); END`,
  changes_receipt: `AFTER UPDATE OF delivered_at, read_at ON mail
    WHEN OLD.delivered_at IS NOT NEW.delivered_at OR OLD.read_at IS NOT NEW.read_at BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('receipt', NULL, NEW.from_agent, NEW.id, ${NOW_MS}); END`,
  changes_presence_registered: `AFTER INSERT ON agents BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('presence', NEW.session_id, NEW.agent_id, COALESCE(NEW.status_hint, 'active'), ${NOW_MS}); END`,
  changes_presence_updated: `AFTER UPDATE OF last_heartbeat, status_hint, session_id ON agents BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('presence', NEW.session_id, NEW.agent_id, COALESCE(NEW.status_hint, 'active'), ${NOW_MS}); END`,
  changes_revocation: `AFTER INSERT ON revoked_tokens BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('revocation', NULL, NEW.agent_id, NEW.jti, NEW.revoked_at); END`,
  changes_agent_key_issued: `AFTER INSERT ON agent_keys BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('agent_key', NULL, NEW.agent_id, 'issued', NEW.created_at); END`,
  changes_agent_key_ended: `AFTER UPDATE OF revoked_at ON agent_keys
    WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL BEGIN
    INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES ('agent_key', NULL, NEW.agent_id, 'ended', NEW.revoked_at); END`,
};

/**
 * The change log (docs/change-feed.md): one small row per committed change, written in the same
 * transaction as the change, carrying routing keys and a reference — never the content. On SQLite
 * every write transaction begins IMMEDIATE, so writers are serialized and `cursor` (the rowid: one
 * above the highest, and retention never deletes the highest, so never reused) is in commit order.
 * Not AUTOINCREMENT: it would cost every change a second row write (sqlite_sequence) for nothing.
 * Only the primary key is indexed: readers range-scan it, and every further index would cost each
 * write.
 *
 * SQLite's search index follows the feed from here on (its state row `changes` holds a feed
 * cursor): messages it had not indexed yet get a change row each, in id order, so it finds them.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('changes')
    .addColumn('cursor', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => c.primaryKey())
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
    for (const [name, body] of Object.entries(SQLITE_TRIGGERS)) {
      await sql.raw(`CREATE TRIGGER ${name} ${body}`).execute(db);
    }
  }
}
