import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRetention } from '../src/app/retention.js';
import { openRawSession, postMcp, readSse } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

const DAY = 86_400_000;

describe('retention', () => {
  let server: TestServer;
  let auth: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer({
      RETENTION_INTERVAL_SECONDS: '0',
      RETENTION_MESSAGE_DAYS: '2',
      RETENTION_ARCHIVED_SESSION_DAYS: '1',
    });
    auth = { authorization: `Bearer ${await tokenFor(server, 'keeper')}` };
  });
  afterAll(async () => server.cleanup());

  const call = async (tool: string, args: Record<string, unknown>) =>
    (await callHttpTool(server.url, tool, args, auth)).body;

  it('purges expired memory, archived sessions and old messages by their settings, and nothing else', async () => {
    const active = (await call('create_session', { purpose: 'keep me' })).session_id as string;
    const archived = (await call('create_session', { purpose: 'archive me' })).session_id as string;
    await call('add_message', { session_id: active, content: 'an old finding about zeppelins' });
    await call('update_session', { session_id: archived, status: 'archived' });
    await call('set_memory', { key: 'short', value: 1, expires_in: 1 });
    await call('set_memory', { key: 'long', value: 2 });

    // Nothing is old yet: a run now removes only what has expired.
    const soon = await runRetention(server.app.services, Date.now() + 2_000);
    expect(soon).toMatchObject({ memory: 1, sessions: 0, messages: 0 });

    const later = await runRetention(server.app.services, Date.now() + 3 * DAY);
    expect(later).toMatchObject({ sessions: 1, messages: 1 });
    expect((await call('get_session', { session_id: archived })).code).toBe('SESSION_NOT_FOUND');
    expect((await call('get_session', { session_id: active })).success).toBe(true);
    const search = await call('search_context', { session_id: active, query: 'zeppelins' });
    expect(search.results).toEqual([]);
    expect((await call('get_memory', { key: 'long' })).value).toBe(2);
  });
});

describe('retention of the audit log and of revocations', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      RETENTION_INTERVAL_SECONDS: '0',
      RETENTION_AUDIT_DAYS: '1',
      JWT_TOKEN_EXPIRY: '60',
    });
  });
  afterAll(async () => server.cleanup());

  it('purges audit entries older than RETENTION_AUDIT_DAYS and revocations of expired tokens, through the services', async () => {
    const leaver = { authorization: `Bearer ${await tokenFor(server, 'leaver')}` };
    expect((await callHttpTool(server.url, 'revoke_token', {}, leaver)).body.success).toBe(true);
    const admin = { authorization: `Bearer ${await tokenFor(server, 'auditor', { admin: true })}` };
    const auditLog = async () =>
      (await callHttpTool(server.url, 'get_audit_log', { limit: 1000 }, admin)).body.entries as Array<{
        action: string;
      }>;
    expect((await auditLog()).map((e) => e.action)).toContain('revoke_token');

    // The token expires in 60 s and the entry is a day old only in two days: nothing goes yet.
    const soon = await runRetention(server.app.services, Date.now() + 2_000);
    expect(soon).toMatchObject({ audit: 0, revocations: 0 });

    const later = await runRetention(server.app.services, Date.now() + 2 * DAY);
    expect(later.revocations).toBe(1);
    expect(later.audit).toBeGreaterThanOrEqual(1);
    expect((await auditLog()).map((e) => e.action)).not.toContain('revoke_token');
    // The revoked token stays refused after its revocation row is gone.
    expect((await callHttpTool(server.url, 'list_sessions', {}, leaver)).body.code).toBe('TOKEN_REVOKED');
  });
});

describe('retention of the change feed', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ RETENTION_INTERVAL_SECONDS: '0', RETENTION_CHANGES_DAYS: '7' });
  });
  afterAll(async () => server.cleanup());

  it('purges changes older than RETENTION_CHANGES_DAYS but never the newest, so cursors never go back; a stream resuming from before them is told everything it watches changed', async () => {
    const auth = { authorization: `Bearer ${await tokenFor(server, 'keeper')}` };
    const board = (await callHttpTool(server.url, 'create_session', { purpose: 'feed' }, auth)).body
      .session_id as string;
    const session = await openRawSession(server.url, auth);
    for (const uri of [`session://${board}`, 'agent://keeper/memory']) {
      await postMcp(server.url, session, {
        jsonrpc: '2.0',
        id: 2,
        method: 'resources/subscribe',
        params: { uri },
      });
    }
    await callHttpTool(server.url, 'add_message', { session_id: board, content: 'one' }, auth);
    const { feed } = server.app.services;
    await feed.caughtUp();
    const head = feed.position;
    expect(head).toBeGreaterThanOrEqual(2);

    const kept = (await server.app.services.store.changeFeed.read(0, 100_000)).length;
    expect((await runRetention(server.app.services, Date.now() + 6 * DAY)).changes).toBe(0);
    expect((await runRetention(server.app.services, Date.now() + 8 * DAY)).changes).toBe(kept - 1);
    expect((await server.app.services.store.changeFeed.read(0, 100_000)).map((c) => c.cursor)).toEqual([
      head,
    ]);

    await callHttpTool(server.url, 'set_memory', { key: 'k', value: 1 }, auth);
    await feed.caughtUp();
    const now = feed.position;
    expect(now).toBeGreaterThan(head);

    // Resuming from cursor 1 (purged): one notification per subscribed URI, at the head.
    const stream = await fetch(`${server.url}/mcp`, {
      headers: { ...session, accept: 'text/event-stream', 'last-event-id': '1' },
    });
    const { text } = await readSse(stream, (t) => (t.match(/event: message/g) ?? []).length >= 2);
    expect(text).toContain(`"uri":"session://${board}"`);
    expect(text).toContain('"uri":"agent://keeper/memory"');
    expect([...text.matchAll(/^id: (\S+)\nevent: message/gm)].map((m) => m[1])).toEqual([
      `${now}`,
      `${now}.1`,
    ]);
  });
});
