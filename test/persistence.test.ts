import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

const DB_FILE = 'shared-context.db';

interface Message {
  id: number;
  content: string;
  sender: string;
}

describe('persistence', () => {
  const dirs: string[] = [];
  const servers: TestServer[] = [];

  /** A data directory that outlives one server (removed after the test). */
  function dataDir(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'scs-persist-'));
    dirs.push(dir);
    return dir;
  }

  async function start(dir: string, env: Record<string, string> = {}): Promise<TestServer> {
    const server = await startTestServer(env, dir);
    servers.push(server);
    return server;
  }

  afterEach(async () => {
    await Promise.allSettled(servers.splice(0).map((s) => s.stop()));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('keeps sessions, messages, memory and keys across a restart, and ids keep increasing', async () => {
    const dir = dataDir();
    const first = await start(dir);
    const token = await tokenFor(first, 'alice');
    const call = (server: TestServer, name: string, args: unknown) =>
      callHttpTool(server.url, name, args, bearer(token));

    const created = await call(first, 'create_session', { purpose: 'survives restarts', metadata: { n: 1 } });
    const sessionId = created.body.session_id as string;
    const ids: number[] = [];
    for (const content of ['the quokka plan', 'second thought', 'a private note']) {
      const added = await call(first, 'add_message', {
        session_id: sessionId,
        content,
        ...(content === 'a private note' ? { visibility: 'private' } : {}),
      });
      expect(added.status).toBe(200);
      ids.push(added.body.message_id as number);
    }
    await call(first, 'set_memory', { key: 'plan', value: { step: 3, note: '42' } });
    await call(first, 'set_memory', { key: 'scoped', value: 'in session', session_id: sessionId });
    const apiKey = first.apiKey;
    const adminKey = first.adminKey;
    await first.stop();

    const second = await start(dir);
    expect(second.apiKey).toBe(apiKey);
    expect(second.adminKey).toBe(adminKey);

    // The old token is still valid (same signing secret from keys.json).
    const session = await call(second, 'get_session', { session_id: sessionId });
    expect(session.status).toBe(200);
    expect(session.body.session).toMatchObject({
      session_id: sessionId,
      purpose: 'survives restarts',
      status: 'active',
      created_by: 'alice',
      metadata: { n: 1 },
    });

    const messages = await call(second, 'get_messages', { session_id: sessionId });
    expect((messages.body.messages as Message[]).map((m) => [m.id, m.content])).toEqual([
      [ids[0], 'the quokka plan'],
      [ids[1], 'second thought'],
      [ids[2], 'a private note'],
    ]);

    const next = await call(second, 'add_message', { session_id: sessionId, content: 'after restart' });
    expect(next.body.message_id).toBeGreaterThan(ids[2] as number);

    const memory = await call(second, 'get_memory', { key: 'plan' });
    expect(memory.body).toMatchObject({ value: { step: 3, note: '42' }, version: 1 });
    const scoped = await call(second, 'get_memory', { key: 'scoped', session_id: sessionId });
    expect(scoped.body.value).toBe('in session');

    const found = await call(second, 'search_context', { session_id: sessionId, query: 'quokka' });
    expect(found.status).toBe(200);
    const results = found.body.results as Array<{ message: Message }>;
    expect(results.map((r) => r.message.id)).toContain(ids[0]);

    // A new token from the reused api key works too.
    const freshToken = await tokenFor(second, 'bob');
    const asBob = await callHttpTool(
      second.url,
      'get_messages',
      { session_id: sessionId },
      bearer(freshToken),
    );
    expect((asBob.body.messages as Message[]).map((m) => m.content)).not.toContain('a private note');
  });

  it('keeps the generated keys file at mode 0600 and reuses it', async () => {
    const dir = dataDir();
    const first = await start(dir);
    const file = path.join(dir, 'keys.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await first.stop();
    const second = await start(dir);
    expect(second.apiKey).toBe(first.apiKey);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('has a confirmed message on disk while the server is running (another connection sees the row)', async () => {
    const dir = dataDir();
    const server = await start(dir);
    const token = await tokenFor(server, 'writer');
    const created = await callHttpTool(server.url, 'create_session', { purpose: 'durable' }, bearer(token));
    const sessionId = created.body.session_id as string;
    const added = await callHttpTool(
      server.url,
      'add_message',
      { session_id: sessionId, content: 'written and confirmed', metadata: { k: 'v' } },
      bearer(token),
    );
    expect(added.status).toBe(200);
    const id = added.body.message_id as number;

    const db = new Database(path.join(dir, DB_FILE), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT id, session_id, sender, content FROM messages WHERE id = ?').get(id) as
        { id: number; session_id: string; sender: string; content: string } | undefined;
      expect(row).toEqual({ id, session_id: sessionId, sender: 'writer', content: 'written and confirmed' });
      const session = db.prepare('SELECT purpose FROM sessions WHERE session_id = ?').get(sessionId);
      expect(session).toEqual({ purpose: 'durable' });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('finishes the writes in flight when stopped in the middle of 50 concurrent writes, and keeps every confirmed one', async () => {
    const dir = dataDir();
    const server = await start(dir);
    const token = await tokenFor(server, 'burst');
    const created = await callHttpTool(server.url, 'create_session', { purpose: 'shutdown' }, bearer(token));
    const sessionId = created.body.session_id as string;

    // Stop while the burst is arriving: once the server has taken 20 of the 50 requests, the rest
    // are still connecting or queued. Each must end either confirmed-and-durable or refused.
    let received = 0;
    let receivedAtStop = 0;
    let stopping: Promise<void> | undefined;
    server.app.http.server.on('request', () => {
      received++;
      if (received === 20 && stopping === undefined) {
        receivedAtStop = received;
        stopping = server.stop();
      }
    });
    const writes = Array.from({ length: 50 }, (_, i) =>
      callHttpTool(
        server.url,
        'add_message',
        { session_id: sessionId, content: `burst ${i}` },
        bearer(token),
      ),
    );
    const settled = await Promise.allSettled(writes);
    await (stopping ?? server.stop());

    const confirmed = new Map<number, string>();
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled' && s.value.status === 200 && s.value.body.success === true) {
        confirmed.set(s.value.body.message_id as number, `burst ${i}`);
      }
    });
    // Requests the server had already taken when it began stopping were finished, not dropped.
    expect(confirmed.size).toBeGreaterThanOrEqual(receivedAtStop);

    const restarted = await start(dir);
    const { body } = await callHttpTool(
      restarted.url,
      'get_messages',
      { session_id: sessionId, limit: 1000 },
      bearer(token),
    );
    const stored = new Map((body.messages as Message[]).map((m) => [m.id, m.content]));
    for (const [id, content] of confirmed) expect(stored.get(id), `message ${id}`).toBe(content);
    // Nothing half-written: every stored message is one of the 50 we sent.
    for (const content of stored.values()) expect(content).toMatch(/^burst \d+$/);
  });
});
