import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../store.js';

/** Milliseconds since the epoch, in each dialect. */
const NOW_MS: Record<Dialect, string> = {
  sqlite: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
  postgres: '(extract(epoch from clock_timestamp()) * 1000)::bigint',
};

export interface ChangeTrigger {
  /** `AFTER <event> ON <table>`, e.g. `INSERT ON messages`, `UPDATE OF status ON sessions`. */
  on: string;
  /** Only when this holds (NEW/OLD as in the dialect). */
  when?: string;
  /** The change row's kind, session_id, agent_id, ref and created_at; `$NOW` is the current time. */
  values: string;
}

/**
 * What records each change (see the table in src/store/change-feed.ts): a trigger per write, so the
 * change row is written by the database in the writer's own statement and transaction — no write
 * can forget it, and it costs no round trip through the query layer. Updates that change nothing a
 * subscriber watches (an agent's last_activity, a key's updated_at alone) record nothing. The same
 * definitions serve both dialects (SQLite trigger bodies, PL/pgSQL trigger functions).
 */
const CHANGE_TRIGGERS: Record<string, ChangeTrigger> = {
  changes_message: {
    on: 'INSERT ON messages',
    values: "'message', NEW.session_id, NEW.sender, NEW.id, NEW.created_at",
  },
  changes_session_created: {
    on: 'INSERT ON sessions',
    values: "'session', NEW.session_id, NEW.created_by, NEW.status, NEW.created_at",
  },
  changes_session_updated: {
    on: 'UPDATE OF status, purpose, metadata ON sessions',
    values: "'session', NEW.session_id, NULL, NEW.status, NEW.updated_at",
  },
  changes_memory_inserted: {
    on: 'INSERT ON agent_memory',
    values: "'memory', NULLIF(NEW.scope_key, ''), NEW.agent_id, NEW.key, NEW.updated_at",
  },
  changes_memory_updated: {
    on: 'UPDATE ON agent_memory',
    values: "'memory', NULLIF(NEW.scope_key, ''), NEW.agent_id, NEW.key, NEW.updated_at",
  },
  changes_memory_deleted: {
    on: 'DELETE ON agent_memory',
    values: "'memory', NULLIF(OLD.scope_key, ''), OLD.agent_id, OLD.key, $NOW",
  },
  changes_mail: {
    on: 'INSERT ON mail',
    values: "'mail', NULL, NEW.to_agent, NEW.id, NEW.created_at",
  },
  changes_receipt: {
    on: 'UPDATE OF delivered_at, read_at ON mail',
    when: 'OLD.delivered_at IS DISTINCT FROM NEW.delivered_at OR OLD.read_at IS DISTINCT FROM NEW.read_at',
    values: "'receipt', NULL, NEW.from_agent, NEW.id, $NOW",
  },
  changes_presence_registered: {
    on: 'INSERT ON agents',
    values: "'presence', NEW.session_id, NEW.agent_id, COALESCE(NEW.status_hint, 'active'), $NOW",
  },
  changes_presence_updated: {
    on: 'UPDATE OF last_heartbeat, status_hint, session_id ON agents',
    values: "'presence', NEW.session_id, NEW.agent_id, COALESCE(NEW.status_hint, 'active'), $NOW",
  },
  changes_revocation: {
    on: 'INSERT ON revoked_tokens',
    values: "'revocation', NULL, NEW.agent_id, NEW.jti, NEW.revoked_at",
  },
  changes_agent_key_issued: {
    on: 'INSERT ON agent_keys',
    values: "'agent_key', NULL, NEW.agent_id, 'issued', NEW.created_at",
  },
  changes_agent_key_ended: {
    on: 'UPDATE OF revoked_at ON agent_keys',
    when: 'OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL',
    values: "'agent_key', NULL, NEW.agent_id, 'ended', NEW.revoked_at",
  },
};

/** The statements that create one change trigger in a dialect. */
export function changeTriggerSql(dialect: Dialect, name: string, trigger: ChangeTrigger): string[] {
  const insert = `INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
    VALUES (${trigger.values.replaceAll('$NOW', NOW_MS[dialect])});`;
  if (dialect === 'sqlite') {
    const when = trigger.when === undefined ? '' : ` WHEN ${trigger.when}`;
    return [`CREATE TRIGGER ${name} AFTER ${trigger.on}${when} BEGIN ${insert} END`];
  }
  const when = trigger.when === undefined ? '' : ` WHEN (${trigger.when})`;
  return [
    `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN ${insert} RETURN NULL; END $body$`,
    `CREATE TRIGGER ${name} AFTER ${trigger.on} FOR EACH ROW${when} EXECUTE FUNCTION ${name}()`,
  ];
}

/**
 * The change log (docs/change-feed.md): one small row per committed change, written in the same
 * transaction as the change, carrying routing keys and a reference — never the content.
 *
 * SQLite: every write transaction begins IMMEDIATE, so writers are serialized and `cursor` (the
 * rowid: one above the highest, and retention never deletes the highest, so never reused) is in
 * commit order. Not AUTOINCREMENT: it would cost every change a second row write (sqlite_sequence)
 * for nothing. Only the primary key is indexed: readers range-scan it, and every further index would
 * cost each write.
 *
 * PostgreSQL: `cursor` is the writing transaction's id (xid8, as a number: it stays below 2^53 for
 * millennia) and `id` orders the changes of one transaction. Readers take only changes of
 * transactions below the oldest one still running (`pg_snapshot_xmin`), which have all committed or
 * rolled back, so a reader that has seen cursor N never later finds a committed change at or below
 * N (src/store/postgres/pg-change-feed.ts).
 *
 * SQLite's search index follows the feed from here on (its state row `changes` holds a feed
 * cursor): messages it had not indexed yet get a change row each, in id order, so it finds them.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect === 'sqlite') {
    await db.schema
      .createTable('changes')
      .addColumn('cursor', 'integer', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('session_id', 'text')
      .addColumn('agent_id', 'text')
      .addColumn('ref', 'text')
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .execute();
    await sql`INSERT INTO changes (kind, session_id, agent_id, ref, created_at)
      SELECT 'message', session_id, sender, CAST(id AS TEXT), created_at FROM messages
      WHERE id > (SELECT last_id FROM search_index_state WHERE name = 'messages') ORDER BY id`.execute(db);
    await sql`UPDATE search_index_state SET name = 'changes', last_id = 0 WHERE name = 'messages'`.execute(
      db,
    );
  } else {
    await sql`CREATE TABLE changes (
      cursor bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
      id bigint GENERATED ALWAYS AS IDENTITY,
      kind text NOT NULL,
      session_id text,
      agent_id text,
      ref text,
      created_at bigint NOT NULL,
      PRIMARY KEY (cursor, id))`.execute(db);
    // Cursors are sparse (transaction ids): retention records up to where it purged, so a replay
    // from before that point knows it cannot be served change by change.
    await sql`CREATE TABLE changes_purged (through bigint NOT NULL)`.execute(db);
    await sql`INSERT INTO changes_purged (through) VALUES (0)`.execute(db);
  }
  for (const [name, trigger] of Object.entries(CHANGE_TRIGGERS)) {
    for (const statement of changeTriggerSql(dialect, name, trigger)) await sql.raw(statement).execute(db);
  }
}
