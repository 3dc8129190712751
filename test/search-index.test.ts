import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { recordChange } from '../src/store/change-feed.js';
import { migrationProvider } from '../src/store/migrations/index.js';
import type { Database } from '../src/store/schema.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite.store.js';

const run = promisify(execFile);

describe('the SQLite search index', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'scs-index-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('two processes on one file index every message exactly once from the change feed, without errors', async () => {
    const file = path.join(dir, 'shared.db');
    const store = await openSqliteStore(file);
    await sql`INSERT INTO sessions VALUES ('session_0000000000000001', 'p', 'active', 'x', 0, 0, 'null')`.execute(
      store.db,
    );
    const other = run(process.execPath, ['--import', 'tsx', 'test/fixtures/index-loop.ts', file, '2500']);
    let written = 0;
    let errors = 0;
    const end = Date.now() + 2000;
    while (Date.now() < end) {
      // Twenty messages in one write, each with its change row, as the write path records them.
      await store.write(async (trx) => {
        for (let i = 0; i < 20; i++) {
          const inserted = await sql<{
            id: number;
          }>`INSERT INTO messages (session_id, sender, sender_type, content, visibility, message_type, metadata, created_at)
            VALUES ('session_0000000000000001', 'x', 'g', ${`zebra ${written++}`}, 'public', 'm', 'null', 0) RETURNING id`.execute(
            trx,
          );
          await recordChange(trx, 'message', 'session_0000000000000001', 'x', inserted.rows[0]!.id);
        }
      });
      await store.searchIndex.catchUp(store.db).catch(() => errors++);
    }
    const child = JSON.parse((await other).stdout) as { errors: number };
    await store.searchIndex.catchUp(store.db);
    const indexed = await sql<{
      n: number;
    }>`SELECT count(*) AS n FROM message_search WHERE message_search MATCH 'zebra'`.execute(store.db);
    await store.close();
    expect({ errors, childErrors: child.errors }).toEqual({ errors: 0, childErrors: 0 });
    expect(indexed.rows[0]?.n).toBe(written);
  });
});

describe('upgrading a database to the change feed (migration 0005)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'scs-upgrade-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('indexes the messages the index had not reached before the upgrade, and only those, once', async () => {
    const file = path.join(dir, 'old.db');
    // A database as the previous release left it: migrated to 0004, three messages, two indexed.
    const raw = new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
    const migrator = new Migrator({ db: raw, provider: migrationProvider('sqlite') });
    expect((await migrator.migrateTo('0004-agent-keys')).error).toBeUndefined();
    await sql`INSERT INTO sessions VALUES ('session_0000000000000001', 'p', 'active', 'x', 0, 0, 'null')`.execute(
      raw,
    );
    for (const word of ['okapi one', 'okapi two', 'okapi three']) {
      await sql`INSERT INTO messages (session_id, sender, sender_type, content, visibility, message_type, metadata, created_at)
        VALUES ('session_0000000000000001', 'x', 'g', ${word}, 'public', 'm', 'null', 0)`.execute(raw);
    }
    await sql`INSERT INTO message_search (rowid, content, metadata) SELECT id, content, metadata FROM messages WHERE id <= 2`.execute(
      raw,
    );
    await sql`UPDATE search_index_state SET last_id = 2 WHERE name = 'messages'`.execute(raw);
    await raw.destroy();

    const store = await openSqliteStore(file);
    await store.searchIndex.catchUp(store.db);
    const indexed = await sql<{
      rowid: number;
    }>`SELECT rowid FROM message_search WHERE message_search MATCH 'okapi' ORDER BY rowid`.execute(store.db);
    const changes = await store.changeFeed.read(0, 100);
    await store.close();
    expect(indexed.rows.map((r) => r.rowid)).toEqual([1, 2, 3]);
    expect(changes.map((c) => [c.kind, c.ref])).toEqual([['message', '3']]);
  });
});
