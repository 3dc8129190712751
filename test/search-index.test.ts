import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { seedSqlite } from '../bench/seed-messages.js';
import { recordChange } from '../src/store/change-feed.js';
import { sessionWordTokens } from '../src/store/migrations/0011-word-search.js';
import { migrationProvider } from '../src/store/migrations/index.js';
import { SearchService } from '../src/search/search.service.js';
import type { Database } from '../src/store/schema.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite.store.js';
import { callHttpTool, startTestServer, tokenFor } from './helpers/server.js';

const run = promisify(execFile);

/** The index entries (rowids = message ids) whose text has `word`, in a session (migration 0011's tokens). */
function entriesWith(db: BetterSqlite3.Database, sessionId: string, word: string): number[] {
  const key = db.prepare('SELECT key FROM session_search_keys WHERE session_id = ?').get(sessionId) as
    { key: number } | undefined;
  if (key === undefined) return [];
  const rows = db
    .prepare('SELECT rowid FROM message_search WHERE message_search MATCH ? ORDER BY rowid')
    .all(`"${sessionWordTokens(key.key, [word])}"`) as Array<{ rowid: number }>;
  return rows.map((r) => r.rowid);
}

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
    await store.close();
    const check = new BetterSqlite3(file, { readonly: true });
    const indexed = entriesWith(check, 'session_0000000000000001', 'zebra');
    check.close();
    expect({ errors, childErrors: child.errors }).toEqual({ errors: 0, childErrors: 0 });
    expect(indexed.length).toBe(written);
  });
});

describe('the session vocabulary shared by processes on one file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'scs-vocabulary-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('corrects a typo of a word another process indexed after this one loaded the vocabulary', async () => {
    const file = path.join(dir, 'shared.db');
    const [writer, reader] = [await openSqliteStore(file), await openSqliteStore(file)];
    const sessionId = 'session_0000000000000001';
    const viewer = { agentId: 'x', agentType: 'generic', isAdmin: false };
    const write = async (content: string) =>
      writer.write(async (trx) => {
        const inserted = await sql<{ id: number }>`INSERT INTO messages
          (session_id, sender, sender_type, content, visibility, message_type, metadata, created_at)
          VALUES (${sessionId}, 'x', 'g', ${content}, 'public', 'm', 'null', 0) RETURNING id`.execute(trx);
        await recordChange(trx, 'message', sessionId, 'x', inserted.rows[0]!.id);
      });
    const search = async (query: string) =>
      (
        await new SearchService(reader.db, reader.searchIndex).searchContext(viewer, {
          sessionId,
          query,
          fuzzyThreshold: 60,
          limit: 10,
          searchMetadata: true,
          scope: 'all',
        })
      ).results.map((r) => r.message.content);
    try {
      await sql`INSERT INTO sessions VALUES (${sessionId}, 'p', 'active', 'x', 0, 0, 'null')`.execute(
        writer.db,
      );
      await write('the okapi grazes');
      expect(await search('okapy')).toEqual(['the okapi grazes']);
      // The writer indexes the next message (and its new words); the reader's vocabulary is loaded.
      await write('a pangolin sleeps');
      await writer.searchIndex.catchUp(writer.db);
      expect(await search('pangolni')).toEqual(['a pangolin sleeps']);
    } finally {
      await writer.close();
      await reader.close();
    }
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
    const changes = await store.changeFeed.read(0, 100);
    await store.close();
    const check = new BetterSqlite3(file, { readonly: true });
    const indexed = entriesWith(check, 'session_0000000000000001', 'okapi');
    check.close();
    expect(indexed).toEqual([1, 2, 3]);
    expect(changes.map((c) => [c.kind, c.ref])).toEqual([['message', '3']]);
  });
});

describe('upgrading a database to the session-keyed index (migration 0009)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'scs-upgrade-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rebuilds the entries the old index had and catches up the rest; a search sees its own session only', async () => {
    const file = path.join(dir, 'shared-context.db');
    // A database as the previous release left it: migrated to 0008, messages in two sessions, the
    // first four indexed under their message id, the last two still pending in the change feed.
    const raw = new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
    const migrator = new Migrator({ db: raw, provider: migrationProvider('sqlite') });
    expect((await migrator.migrateTo('0008-word-vocabulary')).error).toBeUndefined();
    const [a, b] = ['session_00000000000000aa', 'session_00000000000000bb'];
    for (const id of [a, b])
      await sql`INSERT INTO sessions VALUES (${id}, 'p', 'active', 'x', 0, 0, 'null')`.execute(raw);
    for (const [session, content] of [
      [a, 'okapi one'],
      [b, 'okapi two'],
      [a, 'okapi three'],
      [b, 'okapi four'],
      [a, 'okapi five'],
      [b, 'okapi six'],
    ] as const) {
      await sql`INSERT INTO messages (session_id, sender, sender_type, content, visibility, message_type, metadata, created_at)
        VALUES (${session}, 'x', 'g', ${content}, 'public', 'm', 'null', 0)`.execute(raw);
    }
    await sql`INSERT INTO message_search (rowid, content, metadata) SELECT id, content, metadata FROM messages WHERE id <= 4`.execute(
      raw,
    );
    await sql`UPDATE search_index_state SET last_id = (SELECT cursor FROM changes WHERE kind = 'message' AND ref = '4')
      WHERE name = 'changes'`.execute(raw);
    await raw.destroy();

    const server = await startTestServer({}, dir);
    try {
      const auth = { authorization: `Bearer ${await tokenFor(server, 'reader')}` };
      const found = async (sessionId: string) => {
        const { body } = await callHttpTool(
          server.url,
          'search_context',
          { session_id: sessionId, query: 'okapi', limit: 100 },
          auth,
        );
        return (body.results as Array<{ message: { content: string } }>).map((r) => r.message.content).sort();
      };
      expect(await found(a)).toEqual(['okapi five', 'okapi one', 'okapi three']);
      expect(await found(b)).toEqual(['okapi four', 'okapi six', 'okapi two']);
    } finally {
      await server.stop();
    }
    // Each message once, under its own session's tokens.
    const check = new BetterSqlite3(file, { readonly: true });
    const [inA, inB] = [entriesWith(check, a, 'okapi'), entriesWith(check, b, 'okapi')];
    check.close();
    expect({ inA, inB }).toEqual({ inA: [1, 3, 5], inB: [2, 4, 6] });
  });
});

describe('catching up a large backlog', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'scs-backlog-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('indexes in slices: other requests are answered while it runs, and the search that waited sees every message', async () => {
    let server = await startTestServer({}, dir);
    const token = await tokenFor(server, 'importer');
    const auth = { authorization: `Bearer ${token}` };
    const sessionId = (await callHttpTool(server.url, 'create_session', { purpose: 'import' }, auth)).body
      .session_id as string;
    await server.stop();
    // A bulk import while the server is down: 30,000 messages the index has not seen.
    const file = path.join(dir, 'shared-context.db');
    seedSqlite(file, sessionId, 'importer', 30_000);
    const marker = new BetterSqlite3(file);
    marker
      .prepare(
        `INSERT INTO messages (session_id, sender, sender_type, content, visibility, message_type, metadata, created_at)
        VALUES (?, 'importer', 'generic', 'the last imported wombat', 'public', 'm', 'null', 0)`,
      )
      .run(sessionId);
    const last = (marker.prepare('SELECT max(cursor) AS c FROM changes').get() as { c: number }).c;
    marker.close();

    server = await startTestServer({}, dir);
    const watcher = new BetterSqlite3(file, { readonly: true });
    const indexedUpTo = () =>
      (
        watcher.prepare(`SELECT last_id FROM search_index_state WHERE name = 'changes'`).get() as {
          last_id: number;
        }
      ).last_id;
    try {
      const start = indexedUpTo();
      let searched = false;
      const search = callHttpTool(
        server.url,
        'search_context',
        { session_id: sessionId, query: 'wombat' },
        auth,
      ).finally(() => (searched = true));
      // Health checks while the search waits for the catch-up: each is answered between two slices.
      const seen: number[] = [];
      while (!searched) {
        const health = await fetch(`${server.url}/health`);
        expect(health.status).toBe(200);
        seen.push(indexedUpTo());
      }
      const { body } = await search;
      expect(seen.some((upTo) => upTo > start && upTo < last)).toBe(true);
      expect((body.results as Array<{ message: { content: string } }>)[0]?.message.content).toBe(
        'the last imported wombat',
      );
      expect(indexedUpTo()).toBe(last);
    } finally {
      watcher.close();
      await server.cleanup();
    }
  });
});
