import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRetention } from '../src/app/retention.js';
import { migrationProvider } from '../src/store/migrations/index.js';
import { TEST_DIALECT, queryDatabase, testDatabaseUrl } from './helpers/database.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

/**
 * total_count comes from counters kept by triggers (migration 0010), not from counting the
 * messages: every test here compares it with a count of the messages themselves, for each kind
 * of reader and filter, after writes, retention and a session's deletion, and after an upgrade.
 */

const DAY = 86_400_000;
const VISIBILITIES = ['public', 'private', 'agent_only', 'admin_only'] as const;

interface Reader {
  id: string;
  type: string;
  admin?: boolean;
}

/** Writers and readers: two agents of one type, one of another, an admin, and a reader who writes nothing. */
const READERS: Reader[] = [
  { id: 'alice', type: 'coder' },
  { id: 'bob', type: 'coder' },
  { id: 'carol', type: 'reviewer' },
  { id: 'root', type: 'ops', admin: true },
  { id: 'dave', type: 'reviewer' },
];
const WRITERS = READERS.slice(0, 4);

interface Message {
  id: number;
  sender: string;
  sender_type: string;
  visibility: string;
  parent_message_id: number | null;
}

/** SPEC §4, written out here so the server's rule is checked against the contract, not against itself. */
function mayRead(reader: Reader, m: Message): boolean {
  if (reader.admin === true) return true;
  if (m.visibility === 'public') return true;
  if (m.visibility === 'private') return m.sender === reader.id;
  if (m.visibility === 'agent_only') return m.sender_type === reader.type;
  return false;
}

type Filter = { visibility_filter?: string; sender?: string; thread_id?: number };

/** Every filter worth asking: none, each visibility, each sender (and one nobody is), pairs, a thread. */
function filtersFor(threadRoot: number | undefined): Filter[] {
  const filters: Filter[] = [{}];
  for (const v of VISIBILITIES) filters.push({ visibility_filter: v });
  for (const w of [...WRITERS.map((r) => r.id), 'nobody']) filters.push({ sender: w });
  for (const w of WRITERS) for (const v of VISIBILITIES) filters.push({ sender: w.id, visibility_filter: v });
  if (threadRoot !== undefined) filters.push({ thread_id: threadRoot });
  return filters;
}

function matches(m: Message, f: Filter): boolean {
  if (f.visibility_filter !== undefined && m.visibility !== f.visibility_filter) return false;
  if (f.sender !== undefined && m.sender !== f.sender) return false;
  if (f.thread_id !== undefined && m.id !== f.thread_id && m.parent_message_id !== f.thread_id) return false;
  return true;
}

/** A test server and its readers' tokens. */
async function withReaders(server: TestServer) {
  const tokens = new Map<string, string>();
  for (const r of READERS) {
    tokens.set(r.id, await tokenFor(server, r.id, { agentType: r.type, admin: r.admin === true }));
  }
  const call = async (reader: string, tool: string, args: Record<string, unknown>) => {
    const { status, body } = await callHttpTool(server.url, tool, args, {
      authorization: `Bearer ${tokens.get(reader)}`,
    });
    expect(status, JSON.stringify(body)).toBe(200);
    return body;
  };

  /** Every message of the session, as the admin reads it. */
  const allMessages = async (sessionId: string) =>
    (await call('root', 'get_messages', { session_id: sessionId, limit: 1000 })).messages as Message[];

  /** total_count, the page itself and get_session's counts agree with the messages, for every reader and filter. */
  async function expectCountsMatch(sessionId: string, threadRoot?: number): Promise<void> {
    const all = await allMessages(sessionId);
    for (const reader of READERS) {
      const visible = all.filter((m) => mayRead(reader, m));
      for (const filter of filtersFor(threadRoot)) {
        const expected = visible.filter((m) => matches(m, filter)).length;
        const page = await call(reader.id, 'get_messages', { session_id: sessionId, limit: 1000, ...filter });
        const label = `${reader.id} ${JSON.stringify(filter)}`;
        expect({ label, total: page.total_count, count: page.count }).toEqual({
          label,
          total: expected,
          count: expected,
        });
        expect(page.total_count_exact, label).toBeUndefined();
        // A cursor narrows the page, never the total.
        const later = await call(reader.id, 'get_messages', {
          session_id: sessionId,
          limit: 1,
          after_id: all[0]?.id ?? 0,
          ...filter,
        });
        expect(later.total_count, label).toBe(expected);
      }
      const session = await call(reader.id, 'get_session', { session_id: sessionId });
      const byVisibility: Record<string, number> = {};
      for (const m of visible) byVisibility[m.visibility] = (byVisibility[m.visibility] ?? 0) + 1;
      expect({ reader: reader.id, total: session.message_count, counts: session.counts }).toEqual({
        reader: reader.id,
        total: visible.length,
        counts: byVisibility,
      });
    }
  }
  return { call, allMessages, expectCountsMatch };
}

/** The counter rows are exactly the messages grouped by their key: none missing, none extra, none at zero. */
async function expectCountersExact(server: TestServer): Promise<void> {
  const key = 'session_id, visibility, sender, sender_type';
  const counters = await queryDatabase<Record<string, unknown>>(
    server.dataDir,
    `SELECT ${key}, n FROM message_counts ORDER BY ${key}`,
  );
  const counted = await queryDatabase<Record<string, unknown>>(
    server.dataDir,
    `SELECT ${key}, count(*) AS n FROM messages GROUP BY ${key} ORDER BY ${key}`,
  );
  const asText = (rows: Array<Record<string, unknown>>) =>
    rows.map((r) => `${r.session_id} ${r.visibility} ${r.sender} ${r.sender_type} ${Number(r.n)}`);
  expect(asText(counters)).toEqual(asText(counted));
}

describe('total_count from the message counters', () => {
  let server: TestServer;
  let h: Awaited<ReturnType<typeof withReaders>>;
  let sessionId: string;
  let doomed: string;
  let threadRoot: number;
  let firstBatchEnd: number;

  /** A mix of every writer and visibility; every third message answers the thread root. */
  async function writeBatch(session: string, size: number, salt: number): Promise<void> {
    for (let i = 0; i < size; i++) {
      const writer = WRITERS[(i + salt) % WRITERS.length]!;
      let visibility: string = VISIBILITIES[(i * 3 + salt + Math.floor(i / 4)) % VISIBILITIES.length]!;
      if (visibility === 'admin_only' && writer.admin !== true) visibility = 'public';
      const reply = i % 3 === 0 && session === sessionId ? { parent_message_id: threadRoot } : {};
      await h.call(writer.id, 'add_message', {
        session_id: session,
        content: `message ${salt}.${i}`,
        visibility,
        ...reply,
      });
    }
  }

  beforeAll(async () => {
    server = await startTestServer({
      RETENTION_INTERVAL_SECONDS: '0',
      RETENTION_MESSAGE_DAYS: '2',
      RETENTION_ARCHIVED_SESSION_DAYS: '1',
    });
    h = await withReaders(server);
    sessionId = (await h.call('alice', 'create_session', { purpose: 'counted' })).session_id as string;
    doomed = (await h.call('bob', 'create_session', { purpose: 'archived, then purged' }))
      .session_id as string;
    threadRoot = (await h.call('alice', 'add_message', { session_id: sessionId, content: 'the root' }))
      .message_id as number;
    await writeBatch(sessionId, 24, 1);
    await writeBatch(doomed, 12, 2);
    firstBatchEnd = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeBatch(sessionId, 20, 3);
  });
  afterAll(async () => server.cleanup());

  it('equals a count of the messages for every reader and filter after writes', async () => {
    await h.expectCountsMatch(sessionId, threadRoot);
    await h.expectCountsMatch(doomed);
    await expectCountersExact(server);
  });

  it('gives a page at a deep offset a hint towards after_id, and none to a shallow one', async () => {
    const shallow = await h.call('alice', 'get_messages', { session_id: sessionId, offset: 10 });
    expect(shallow.hint).toBeUndefined();
    const deep = await h.call('alice', 'get_messages', { session_id: sessionId, offset: 5000 });
    expect(deep).toMatchObject({ count: 0, has_more: false });
    expect(deep.hint).toMatch(/after_id/);
  });

  it('follows retention: old messages and a purged session leave the counts, and no empty counter stays', async () => {
    await h.call('bob', 'update_session', { session_id: doomed, status: 'archived' });
    const purged = await runRetention(server.app.services, firstBatchEnd + 1 + 2 * DAY);
    expect(purged).toMatchObject({ sessions: 1 });
    expect(purged.messages).toBeGreaterThan(0);
    const left = await h.allMessages(sessionId);
    expect(left.length).toBe(20);
    await h.expectCountsMatch(sessionId, threadRoot);
    await expectCountersExact(server);
    const rows = await queryDatabase(server.dataDir, 'SELECT 1 FROM message_counts WHERE session_id = ?', [
      doomed,
    ]);
    expect(rows).toEqual([]);
  });

  it('gives the dashboard overview every session’s message and sender counts from the counters', async () => {
    const fresh = (await h.call('carol', 'create_session', { purpose: 'empty' })).session_id as string;
    const { sessions } = await server.app.services.sessions.overview({ limit: 100 });
    const all = await h.allMessages(sessionId);
    expect(sessions.find((s) => s.session_id === sessionId)).toMatchObject({
      message_count: all.length,
      agent_count: new Set(all.map((m) => m.sender)).size,
    });
    expect(sessions.find((s) => s.session_id === fresh)).toMatchObject({ message_count: 0, agent_count: 0 });
  });
});

describe('upgrading a database to the message counters (migration 0010)', () => {
  let server: TestServer | undefined;
  afterAll(async () => server?.cleanup());

  it('counts the messages written before the upgrade', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'scs-counts-upgrade-'));
    // A database as the previous release left it, with messages of every kind.
    const old = await openMigratedBefore(dir, '0010-message-counts');
    await sql`INSERT INTO sessions VALUES ('session_0000000000000001', 'p', 'active', 'alice', 0, 0, 'null')`.execute(
      old,
    );
    let n = 0;
    let written = 0;
    for (const writer of WRITERS) {
      for (const visibility of VISIBILITIES) {
        for (let i = 0; i <= n % 3; i++) {
          await sql`INSERT INTO messages (session_id, sender, sender_type, content, visibility, message_type, metadata, created_at)
            VALUES ('session_0000000000000001', ${writer.id}, ${writer.type}, ${`old ${n}`}, ${visibility}, 'm', 'null', ${Date.now()})`.execute(
            old,
          );
          written++;
        }
        n++;
      }
    }
    await old.destroy();

    server = await startTestServer({}, dir);
    const h = await withReaders(server);
    expect((await h.allMessages('session_0000000000000001')).length).toBe(written);
    await h.expectCountsMatch('session_0000000000000001');
    await expectCountersExact(server);
  });
});

/** A Kysely on the test database of `dir` (the dialect under test), migrated up to just before `name`. */
async function openMigratedBefore(dir: string, name: string): Promise<Kysely<unknown>> {
  const dialect = TEST_DIALECT;
  const names = Object.keys(await migrationProvider(dialect).getMigrations()).sort();
  const previous = names[names.indexOf(name) - 1]!;
  let db: Kysely<unknown>;
  let schema: string | undefined;
  if (dialect === 'sqlite') {
    db = new Kysely({
      dialect: new SqliteDialect({ database: new BetterSqlite3(path.join(dir, 'shared-context.db')) }),
    });
  } else {
    const url = await testDatabaseUrl(dir);
    schema = readFileSync(path.join(dir, 'pg-schema'), 'utf8').trim();
    db = new Kysely({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
    });
    await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public`.execute(db).catch(() => undefined);
  }
  const migrator = new Migrator({
    db,
    provider: migrationProvider(dialect),
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  const { error } = await migrator.migrateTo(previous);
  expect(error).toBeUndefined();
  return db;
}
