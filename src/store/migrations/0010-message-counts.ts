import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../store.js';

/** The columns a counter is kept by: every column the visibility rule and the count filters read. */
const KEY = 'session_id, visibility, sender, sender_type';

/**
 * Message counters (docs/pages.md): how many messages each (session, visibility, sender,
 * sender_type) has, so `get_messages` answers `total_count` from a few counter rows instead of
 * counting a session's messages on every page. Kept by triggers on `messages` in the writer's own
 * statement and transaction, so no write path can forget them: an insert adds one (a single-row
 * upsert on a small table), a delete — retention's bulk delete, a session's cascade — takes them
 * off. A counter at 0 stays until its session goes (the foreign key's cascade).
 *
 * SQLite: row triggers, the table WITHOUT ROWID (the key is the table; no second index to write).
 * PostgreSQL: a row trigger for inserts (one row per statement), and a statement trigger over the
 * deleted rows for deletes, so a bulk delete updates each counter once instead of once per message.
 * Writers to one session already wait for each other (the session's stream lock,
 * src/store/postgres/pg.store.ts), so the counter row adds no wait between writers.
 *
 * Existing messages are counted when the migration runs (on SQLite in one IMMEDIATE transaction
 * with the triggers, so another process's write cannot fall between the two).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect === 'sqlite') {
    await sql`BEGIN IMMEDIATE`.execute(db);
    try {
      await sql
        .raw(
          `CREATE TABLE message_counts (
        session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
        visibility TEXT NOT NULL, sender TEXT NOT NULL, sender_type TEXT NOT NULL,
        n INTEGER NOT NULL, PRIMARY KEY (${KEY})) WITHOUT ROWID`,
        )
        .execute(db);
      await sql
        .raw(
          `CREATE TRIGGER message_counts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO message_counts (${KEY}, n)
          VALUES (NEW.session_id, NEW.visibility, NEW.sender, NEW.sender_type, 1)
          ON CONFLICT (${KEY}) DO UPDATE SET n = n + 1;
        END`,
        )
        .execute(db);
      await sql
        .raw(
          `CREATE TRIGGER message_counts_delete AFTER DELETE ON messages BEGIN
        UPDATE message_counts SET n = n - 1 WHERE session_id = OLD.session_id
          AND visibility = OLD.visibility AND sender = OLD.sender AND sender_type = OLD.sender_type;
        END`,
        )
        .execute(db);
      await backfill(db);
      await sql`COMMIT`.execute(db);
    } catch (error) {
      await sql`ROLLBACK`.execute(db);
      throw error;
    }
    return;
  }
  await sql
    .raw(
      `CREATE TABLE message_counts (
    session_id text NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    visibility text NOT NULL, sender text NOT NULL, sender_type text NOT NULL,
    n bigint NOT NULL, PRIMARY KEY (${KEY})) WITH (fillfactor = 50)`,
    )
    .execute(db);
  await sql
    .raw(
      `CREATE FUNCTION message_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN
    INSERT INTO message_counts (${KEY}, n)
      VALUES (NEW.session_id, NEW.visibility, NEW.sender, NEW.sender_type, 1)
      ON CONFLICT (${KEY}) DO UPDATE SET n = message_counts.n + 1;
    RETURN NULL; END $body$`,
    )
    .execute(db);
  await sql`CREATE TRIGGER message_counts_insert AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION message_counts_insert()`.execute(db);
  await sql
    .raw(
      `CREATE FUNCTION message_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN
    UPDATE message_counts c SET n = c.n - d.n
      FROM (SELECT ${KEY}, count(*) AS n FROM deleted_messages GROUP BY ${KEY}) d
      WHERE c.session_id = d.session_id AND c.visibility = d.visibility
        AND c.sender = d.sender AND c.sender_type = d.sender_type;
    RETURN NULL; END $body$`,
    )
    .execute(db);
  await sql`CREATE TRIGGER message_counts_delete AFTER DELETE ON messages
    REFERENCING OLD TABLE AS deleted_messages
    FOR EACH STATEMENT EXECUTE FUNCTION message_counts_delete()`.execute(db);
  // The migration runs in a transaction (and nodes migrate one at a time): no write falls between.
  await backfill(db);
}

/** Counts the messages written before the counters existed. */
async function backfill(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(
      `INSERT INTO message_counts (${KEY}, n)
    SELECT ${KEY}, count(*) FROM messages GROUP BY ${KEY}`,
    )
    .execute(db);
}
