import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RAW_INITIALIZE,
  callTool,
  connectMcp,
  openRawSession,
  postMcp,
  readSse,
  toolCall,
  toolJson,
} from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { TEST_DIALECT, queryDatabase } from './helpers/database.js';
import { runRetention } from '../src/app/retention.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.cleanup()));
});

async function start(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startTestServer(env);
  servers.push(server);
  return server;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** One Prometheus sample from /metrics (0 when absent). */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/** Waits until `predicate` holds or `ms` pass (a bounded wait, not a timing assertion). */
async function until(predicate: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

describe('MCP session cap and idle expiry', () => {
  it('a flood of anonymous initialize requests stays within MAX_MCP_SESSIONS: the oldest anonymous sessions make room', async () => {
    const server = await start({ MAX_MCP_SESSIONS: '50', RATE_LIMIT_ANONYMOUS_BURST: '100000' });
    const before = rssMb();
    const ids: string[] = [];
    for (let batch = 0; batch < 30; batch++) {
      const replies = await Promise.all(
        Array.from({ length: 10 }, () => postMcp(server.url, {}, RAW_INITIALIZE)),
      );
      for (const reply of replies) {
        expect(reply.status).toBe(200);
        ids.push(reply.headers.get('mcp-session-id')!);
      }
    }
    const after = rssMb();
    console.info(`300 anonymous initialize (cap 50): RSS ${before} → ${after} MB`);
    expect(server.app.http.mcp.sessionCount).toBeLessThanOrEqual(50);
    expect(await metric(server.url, 'scs_mcp_sessions_open')).toBeLessThanOrEqual(50);
    expect(after - before).toBeLessThan(150);

    const first = await postMcp(
      server.url,
      { 'mcp-session-id': ids[0]! },
      toolCall('get_usage_guidance', {}),
    );
    expect(first.status).toBe(404);
    const last = await postMcp(
      server.url,
      { 'mcp-session-id': ids.at(-1)! },
      toolCall('get_usage_guidance', {}),
    );
    expect(last.status).toBe(200);
  });

  it('when sessions are full, an idle anonymous session is evicted and an authenticated one is kept', async () => {
    const server = await start({ MAX_MCP_SESSIONS: '2' });
    const alice = await connectMcp(server.url, bearer(await tokenFor(server, 'alice')));
    const anonymous = await openRawSession(server.url, {});
    const newcomer = await openRawSession(server.url, {});
    expect(newcomer['mcp-session-id']).toBeDefined();
    const evicted = await postMcp(server.url, anonymous, toolCall('get_usage_guidance', {}));
    expect(evicted.status).toBe(404);
    expect((await callTool(alice, 'list_sessions', {})).isError).toBe(false);
    await alice.close();
  });

  it('when every session belongs to an agent, initialize is refused with 503, Retry-After and a sentence', async () => {
    const server = await start({ MAX_MCP_SESSIONS: '2' });
    const auth = bearer(await tokenFor(server, 'alice'));
    const first = await openRawSession(server.url, auth);
    await openRawSession(server.url, auth);

    for (const headers of [auth, {}]) {
      const refused = await postMcp(server.url, headers, RAW_INITIALIZE);
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(refused.body.error?.message).toMatch(/maximum of 2 MCP sessions/);
      expect(refused.body.error?.data?.code).toBe('UNAVAILABLE');
    }
    await fetch(`${server.url}/mcp`, { method: 'DELETE', headers: first });
    expect((await postMcp(server.url, auth, RAW_INITIALIZE)).status).toBe(200);
  });

  it('a session nobody authenticated on expires after MCP_ANONYMOUS_SESSION_IDLE_SECONDS and answers 404; an agent’s session stays', async () => {
    const server = await start({ MCP_ANONYMOUS_SESSION_IDLE_SECONDS: '1' });
    const anonymous = await openRawSession(server.url, {});
    const owned = await openRawSession(server.url, bearer(await tokenFor(server, 'alice')));
    await until(() => server.app.http.mcp.sessionCount <= 1, 15_000);
    const expired = await postMcp(server.url, anonymous, { jsonrpc: '2.0', id: 9, method: 'ping' });
    expect(expired.status).toBe(404);
    expect(toolJson(await postMcp(server.url, owned, toolCall('list_sessions', {}))).isError).toBe(false);
  });
});

describe('initialize: credentials and per-address limits', () => {
  it('anonymous initialize is limited per client address: 429 with Retry-After and RATE_LIMITED data', async () => {
    const server = await start({ RATE_LIMIT_ANONYMOUS_BURST: '3', RATE_LIMIT_ANONYMOUS_PER_SECOND: '0.01' });
    const auth = bearer(await tokenFor(server, 'alice'));
    // alice is known to the per-agent limiter before the address runs dry.
    expect((await callHttpTool(server.url, 'list_sessions', {}, auth)).status).toBe(200);
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof postMcp>> | undefined;
    for (let i = 0; i < 5; i++) {
      const reply = await postMcp(server.url, {}, RAW_INITIALIZE);
      statuses.push(reply.status);
      if (reply.status === 429) limited ??= reply;
    }
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(3);
    expect(limited).toBeDefined();
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited!.body.error?.data?.code).toBe('RATE_LIMITED');
    expect(limited!.body.error?.data?.retry_after).toBeGreaterThan(0);
    expect(limited!.body.id).toBe(1);
    // An initialize with valid credentials counts against its agent, not the address.
    expect((await postMcp(server.url, auth, RAW_INITIALIZE)).status).toBe(200);
  });

  it('initialize with invalid credentials is refused with 401', async () => {
    const server = await start();
    const reply = await postMcp(server.url, bearer('not-a-token'), RAW_INITIALIZE);
    expect(reply.status).toBe(401);
    expect(reply.body.error?.data?.code).toMatch(/UNAUTHORIZED|TOKEN/);
    const badKey = await postMcp(
      server.url,
      { 'x-api-key': 'x'.repeat(32), 'x-agent-id': 'a' },
      RAW_INITIALIZE,
    );
    expect(badKey.status).toBe(401);
  });
});

describe('a session is bound to the principal that opened it', () => {
  it('another agent is refused on it, by header (fast path and SDK path) and by auth_token', async () => {
    const server = await start();
    const alice = await tokenFor(server, 'alice');
    const bob = await tokenFor(server, 'bob');
    const session = await openRawSession(server.url, bearer(alice));
    const { authorization: _alice, ...sessionOnly } = session;

    const own = toolJson(await postMcp(server.url, session, toolCall('list_sessions', {})));
    expect(own.isError).toBe(false);

    const byHeader = toolJson(
      await postMcp(server.url, { ...sessionOnly, ...bearer(bob) }, toolCall('list_sessions', {})),
    );
    expect(byHeader.isError).toBe(true);
    expect(byHeader.json.code).toBe('PERMISSION_DENIED');
    expect(byHeader.json.error).toMatch(/belongs to agent alice/);

    const byArgument = toolJson(
      await postMcp(server.url, sessionOnly, toolCall('list_sessions', { auth_token: bob })),
    );
    expect(byArgument.json.code).toBe('PERMISSION_DENIED');

    // Through the SDK transport (a batch is not taken by the fast path; resources go through the SDK).
    const batch = await postMcp(server.url, { ...sessionOnly, ...bearer(bob) }, [
      toolCall('list_sessions', {}, 7),
    ]);
    expect(toolJson(batch).json.code).toBe('PERMISSION_DENIED');
    const read = await postMcp(
      server.url,
      { ...sessionOnly, ...bearer(bob) },
      {
        jsonrpc: '2.0',
        id: 8,
        method: 'resources/read',
        params: { uri: 'agent://bob/memory' },
      },
    );
    expect(read.body.error?.message).toMatch(/belongs to agent alice/);

    // The session id is not a credential: without credentials nothing is answered as alice.
    const none = toolJson(await postMcp(server.url, sessionOnly, toolCall('list_sessions', {})));
    expect(none.json.code).toMatch(/UNAUTHORIZED/);
  });

  it('a session opened without credentials is bound by the first auth_token, and then refuses another (official SDK client)', async () => {
    const server = await start();
    const alice = await tokenFor(server, 'alice');
    const bob = await tokenFor(server, 'bob');
    const client = await connectMcp(server.url, {});
    expect((await callTool(client, 'list_sessions', { auth_token: alice })).isError).toBe(false);
    const refused = await callTool(client, 'list_sessions', { auth_token: bob });
    expect(refused.isError).toBe(true);
    expect(refused.json.code).toBe('PERMISSION_DENIED');
    await client.close();
  });

  it('a session opened without credentials is bound by the first request with header credentials', async () => {
    const server = await start();
    const session = await openRawSession(server.url, {});
    const asAlice = toolJson(
      await postMcp(
        server.url,
        { ...session, ...bearer(await tokenFor(server, 'alice')) },
        toolCall('list_sessions', {}),
      ),
    );
    expect(asAlice.isError).toBe(false);
    const asBob = toolJson(
      await postMcp(
        server.url,
        { ...session, ...bearer(await tokenFor(server, 'bob')) },
        toolCall('list_sessions', {}),
      ),
    );
    expect(asBob.json.code).toBe('PERMISSION_DENIED');
  });
});

/** Sends a raw HTTP POST on its own socket and never reads the answer. */
function neverReadingPost(url: string, headers: Record<string, string>, body: unknown): Socket {
  const { hostname, port } = new URL(url);
  const text = JSON.stringify(body);
  const socket = connect(Number(port), hostname);
  socket.pause();
  socket.on('error', () => undefined);
  const lines = [
    'POST /mcp HTTP/1.1',
    `host: ${hostname}:${port}`,
    'content-type: application/json',
    'accept: application/json, text/event-stream',
    `content-length: ${Buffer.byteLength(text)}`,
    ...Object.entries(headers)
      .filter(([name]) => !['content-type', 'accept'].includes(name))
      .map(([name, value]) => `${name}: ${value}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n${text}`);
  return socket;
}

const connections = (server: TestServer) =>
  new Promise<number>((resolve, reject) =>
    server.app.http.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );

describe('unread replies are bounded per client', () => {
  it('a client that never reads its SSE replies is cut off alone, its session continues, and memory stays bounded', async () => {
    // Pages of 4 MiB (MAX_REPLY_BYTES raised from 1 MiB): more than the kernel takes for a socket
    // that is not read (~3 MB on loopback), so the unread rest piles up in the server's memory.
    const server = await start({ MAX_REPLY_BYTES: String(4 * 2 ** 20) });
    const auth = bearer(await tokenFor(server, 'alice'));
    const created = await callHttpTool(server.url, 'create_session', { purpose: 'big' }, auth);
    const sessionId = created.body.session_id as string;
    const content = 'lorem ipsum dolor sit amet '.repeat(3700).slice(0, 99_000);
    for (let batch = 0; batch < 30; batch++) {
      await Promise.all(
        Array.from({ length: 10 }, () =>
          callHttpTool(server.url, 'add_message', { session_id: sessionId, content }, auth),
        ),
      );
    }
    const session = await openRawSession(server.url, auth);
    const bystander = await connectMcp(server.url, bearer(await tokenFor(server, 'bob')));
    const baseline = await connections(server);
    const before = rssMb();

    const sockets = Array.from({ length: 20 }, (_, i) =>
      // A batch is answered by the SDK transport over SSE (the fast path answers single calls as JSON).
      neverReadingPost(server.url, session, [
        toolCall('get_messages', { session_id: sessionId, limit: 1000 }, i + 1),
      ]),
    );
    await until(async () => (await connections(server)) >= baseline + 20);
    await until(async () => (await connections(server)) <= baseline, 60_000);
    const after = rssMb();
    console.info(`20 unread get_messages {limit:1000} over SSE (300 × 99 KB): RSS ${before} → ${after} MB`);

    expect(await connections(server)).toBeLessThanOrEqual(baseline);
    expect(await metric(server.url, 'scs_errors_total{code="CLIENT_BUFFER_OVERFLOW"}')).toBeGreaterThan(0);
    // Generous: the replies are built (and dropped) whatever the client does; what must not stay is
    // the unread part (+470 MB before the bound). On PostgreSQL the driver also holds each 30 MB
    // result in its own buffers until the next GC, so the transient peak is higher.
    expect(after - before).toBeLessThan(TEST_DIALECT === 'postgres' ? 320 : 200);
    expect(server.app.http.mcp.replayBufferBytes).toBeLessThanOrEqual(4 * 2 ** 20);
    // The session goes on, and so does everyone else.
    const page = toolJson(
      await postMcp(server.url, session, toolCall('get_messages', { session_id: sessionId, limit: 2 })),
    );
    expect(page.isError).toBe(false);
    expect((await callTool(bystander, 'list_sessions', {})).isError).toBe(false);
    for (const socket of sockets) socket.destroy();
    await bystander.close();
  }, 120_000);

  it('unread fast-path JSON replies count too', async () => {
    const server = await start({ MAX_REPLY_BYTES: String(8 * 2 ** 20) });
    const auth = bearer(await tokenFor(server, 'alice'));
    const sessionId = (await callHttpTool(server.url, 'create_session', { purpose: 'big' }, auth)).body
      .session_id as string;
    const content = 'x'.repeat(99_000);
    for (let i = 0; i < 60; i++) {
      await callHttpTool(server.url, 'add_message', { session_id: sessionId, content }, auth);
    }
    const session = await openRawSession(server.url, auth);
    const baseline = await connections(server);
    const sockets = Array.from({ length: 10 }, (_, i) =>
      neverReadingPost(
        server.url,
        session,
        toolCall('get_messages', { session_id: sessionId, limit: 1000 }, i + 1),
      ),
    );
    await until(
      async () => (await metric(server.url, 'scs_errors_total{code="CLIENT_BUFFER_OVERFLOW"}')) > 0,
    );
    expect(await metric(server.url, 'scs_errors_total{code="CLIENT_BUFFER_OVERFLOW"}')).toBeGreaterThan(0);
    await until(async () => (await connections(server)) <= baseline);
    expect(await connections(server)).toBeLessThanOrEqual(baseline);
    for (const socket of sockets) socket.destroy();
  }, 60_000);
});

describe('SSE resumption (MCP 2025-11-25)', () => {
  const openGet = (url: string, session: Record<string, string>, extra: Record<string, string> = {}) =>
    fetch(`${url}/mcp`, { headers: { ...session, accept: 'text/event-stream', ...extra } });

  it('the notification stream starts with a priming event: an id, a retry field and empty data', async () => {
    const server = await start();
    const session = await openRawSession(server.url, bearer(await tokenFor(server, 'alice')), '2025-11-25');
    const stream = await openGet(server.url, session);
    expect(stream.status).toBe(200);
    const { text } = await readSse(stream, (t) => t.includes('\n\n'));
    expect(text).toMatch(/^id: \d+\nretry: \d+\ndata: \n\n/);
  });

  it('reconnecting with Last-Event-ID while the old stream is open replaces it; a second plain GET still gets 409', async () => {
    const server = await start();
    const auth = bearer(await tokenFor(server, 'alice'));
    const board = (await callHttpTool(server.url, 'create_session', { purpose: 'resume' }, auth)).body
      .session_id as string;
    const session = await openRawSession(server.url, auth, '2025-11-25');
    const uri = `session://${board}`;
    expect(
      (
        await postMcp(server.url, session, {
          jsonrpc: '2.0',
          id: 2,
          method: 'resources/subscribe',
          params: { uri },
        })
      ).status,
    ).toBe(200);

    const first = await openGet(server.url, session);
    const priming = await readSse(first, (t) => t.includes('\n\n'));
    const primingId = priming.text.match(/^id: (\d+)/)![1]!;

    const plain = await openGet(server.url, session);
    expect(plain.status).toBe(409);
    await plain.text();

    await callHttpTool(server.url, 'add_message', { session_id: board, content: 'while reconnecting' }, auth);
    const resumed = await openGet(server.url, session, { 'last-event-id': primingId });
    expect(resumed.status).toBe(200);
    expect((await readSse(first, () => false)).ended).toBe(true);
    const replay = await readSse(resumed, (t) => t.includes(`"uri":"${uri}"`));
    expect(replay.text).toMatch(/^id: \d+\nretry: \d+\ndata: \n\n/);
    expect(replay.text).toContain(`"uri":"${uri}"`);
  });

  it('a POST reply whose stream was lost is resumed by a GET with the Last-Event-ID of its priming event', async () => {
    const server = await start();
    const auth = bearer(await tokenFor(server, 'alice'));
    const board = (await callHttpTool(server.url, 'create_session', { purpose: 'poll' }, auth)).body
      .session_id as string;
    const session = await openRawSession(server.url, auth, '2025-11-25');
    const controller = new AbortController();
    const waiting = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: session,
      body: JSON.stringify([
        toolCall('wait_for_messages', { session_id: board, after_id: 0, timeout_s: 20 }, 5),
      ]),
      signal: controller.signal,
    });
    const priming = await readSse(waiting, (t) => t.includes('\n\n'));
    expect(priming.text).toMatch(/^id: \S+_\d+\nretry: \d+\ndata: \n\n/);
    const primingId = priming.text.match(/^id: (\S+)/)![1]!;
    controller.abort();

    await callHttpTool(server.url, 'add_message', { session_id: board, content: 'the answer' }, auth);
    const resumed = await fetch(`${server.url}/mcp`, {
      headers: { ...session, accept: 'text/event-stream', 'last-event-id': primingId },
    });
    expect(resumed.status).toBe(200);
    const { text } = await readSse(resumed, (t) => t.includes('the answer'));
    expect(text).toContain('the answer');
  });
});

describe('the replay buffer of POST replies', () => {
  it('keeps no reply that reached its client, and keeps an undelivered one for Last-Event-ID', async () => {
    const server = await start();
    const auth = bearer(await tokenFor(server, 'alice'));
    const board = (await callHttpTool(server.url, 'create_session', { purpose: 'kept' }, auth)).body
      .session_id as string;
    const session = await openRawSession(server.url, auth, '2025-11-25');
    for (let i = 0; i < 5; i++) {
      const reply = await postMcp(server.url, session, [toolCall('list_sessions', {}, i + 1)]);
      expect(reply.headers.get('content-type')).toContain('text/event-stream');
    }
    await until(() => server.app.http.mcp.replayBufferBytes === 0);
    expect(server.app.http.mcp.replayBufferBytes).toBe(0);

    const controller = new AbortController();
    const waiting = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: session,
      body: JSON.stringify([
        toolCall('wait_for_messages', { session_id: board, after_id: 0, timeout_s: 20 }, 9),
      ]),
      signal: controller.signal,
    });
    await readSse(waiting, (t) => t.includes('\n\n'));
    controller.abort();
    await callHttpTool(server.url, 'add_message', { session_id: board, content: 'kept for replay' }, auth);
    await until(() => server.app.http.mcp.replayBufferBytes > 100);
    expect(server.app.http.mcp.replayBufferBytes).toBeGreaterThan(100);
  });
});

describe('Retry-After on the MCP surface', () => {
  it('a rate-limited tool call answered on the fast path keeps its result and sets Retry-After', async () => {
    const server = await start({ RATE_LIMIT_PER_SECOND: '0.01', RATE_LIMIT_BURST: '3' });
    const session = await openRawSession(server.url, bearer(await tokenFor(server, 'alice')));
    let limited: Awaited<ReturnType<typeof postMcp>> | undefined;
    for (let i = 0; i < 6 && limited === undefined; i++) {
      const reply = await postMcp(server.url, session, toolCall('list_sessions', {}, i + 1));
      if (toolJson(reply).json.code === 'RATE_LIMITED') limited = reply;
    }
    expect(limited).toBeDefined();
    expect(limited!.status).toBe(200);
    const { json, isError } = toolJson(limited!);
    expect(isError).toBe(true);
    expect(json.retry_after).toBeGreaterThan(0);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('MCP sessions kept in the database for other nodes', () => {
  it('a session in use stays recorded: its requests refresh it, so retention does not take it for idle', async () => {
    const server = await start({ MCP_SESSION_IDLE_SECONDS: '10', RETENTION_INTERVAL_SECONDS: '0' });
    const session = await openRawSession(server.url, bearer(await tokenFor(server, 'alice')));
    const id = session['mcp-session-id']!;
    const seenAt = async () =>
      (
        await queryDatabase<{ seen_at: number }>(
          server.dataDir,
          'SELECT seen_at FROM mcp_sessions WHERE session_id = ?',
          [id],
        )
      ).map((r) => Number(r.seen_at))[0];
    await until(async () => (await seenAt()) !== undefined);
    const opened = (await seenAt())!;
    // Past a quarter of the idle time (the refresh interval), a request refreshes the record.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const usedAt = Date.now();
    expect((await postMcp(server.url, session, { jsonrpc: '2.0', id: 2, method: 'tools/list' })).status).toBe(
      200,
    );
    await until(async () => ((await seenAt()) ?? 0) > opened);
    expect(await seenAt()).toBeGreaterThanOrEqual(usedAt);
    // Retention with a cut-off between the two: the session is kept.
    const purged = await runRetention(server.app.services, opened + 10_000 + 1_000);
    expect(purged.mcp_sessions).toBe(0);
    expect(await seenAt()).toBeDefined();
  });
});
