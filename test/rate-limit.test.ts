import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectMcp, openRawSession } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { TestSocket } from './helpers/ws-client.js';

type Reply = { status: number; body: Record<string, unknown>; retryAfterHeader: string | null };

async function post(
  server: TestServer,
  path: string,
  headers: Record<string, string>,
  body: unknown = {},
): Promise<Reply> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    retryAfterHeader: res.headers.get('retry-after'),
  };
}

async function get(server: TestServer, path: string, headers: Record<string, string>): Promise<Reply> {
  const res = await fetch(`${server.url}${path}`, { headers });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    retryAfterHeader: res.headers.get('retry-after'),
  };
}

/** One JSON-RPC request to /mcp (reply as JSON or as one SSE event); the JSON-RPC reply and the HTTP status. */
async function rpc(
  server: TestServer,
  headers: Record<string, string>,
  message: Record<string, unknown>,
): Promise<{ status: number; reply: Record<string, unknown>; retryAfterHeader: string | null }> {
  const res = await fetch(`${server.url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, ...message }),
  });
  const text = await res.text();
  const data = (res.headers.get('content-type') ?? '').includes('text/event-stream')
    ? text
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trim())
        .find((line) => line.startsWith('{') && line.includes('"id"'))
    : text;
  return {
    status: res.status,
    reply: JSON.parse(data ?? '{}') as Record<string, unknown>,
    retryAfterHeader: res.headers.get('retry-after'),
  };
}

/** A WebSocket upgrade by hand, so the refusal's status, headers and body can be read. */
function upgrade(server: TestServer, agentId: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}/ws/${agentId}`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: {}, retryAfterHeader: null });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const header = res.headers['retry-after'];
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>,
          retryAfterHeader: typeof header === 'string' ? header : null,
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function expectLimited(reply: Reply, where = ''): void {
  expect(reply.status, where).toBe(429);
  expect(reply.body, where).toMatchObject({ success: false, code: 'RATE_LIMITED' });
  expect(reply.body.retry_after, where).toBeGreaterThan(0);
  expect(Number(reply.retryAfterHeader), where).toBeGreaterThanOrEqual(1);
}

/** A JSON-RPC error for RATE_LIMITED, with retry_after in its data. */
function expectRpcLimited(reply: Record<string, unknown>, where: string): void {
  const error = reply.error as { message?: string; data?: Record<string, unknown> } | undefined;
  expect(error, `${where}: ${JSON.stringify(reply)}`).toBeDefined();
  expect(error?.data, where).toMatchObject({ code: 'RATE_LIMITED' });
  expect(error?.data?.retry_after, where).toBeGreaterThan(0);
}

/** 2 requests/s sustained, bursts of 3: the 4th quick call of an agent is over budget. */
describe('rate limiting per agent', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_SECOND: '2', RATE_LIMIT_BURST: '3' });
  });
  afterAll(async () => server.cleanup());

  const asAgent = (agentId: string) => ({ 'x-api-key': server.apiKey, 'x-agent-id': agentId });
  const listSessions = (headers: Record<string, string>) => post(server, '/mcp/tool/list_sessions', headers);

  it('answers the 4th quick call over the HTTP tool route with 429 RATE_LIMITED, retry_after and Retry-After', async () => {
    const headers = asAgent('http-agent');
    const replies: Reply[] = [];
    for (let i = 0; i < 4; i++) replies.push(await listSessions(headers));
    expect(replies.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    expectLimited(replies[3] as Reply);
    expect(replies[3]?.body.error).toEqual(expect.any(String));
  });

  it('counts getting a token against the agent too', async () => {
    const token = await tokenFor(server, 'minted');
    const replies: Reply[] = [];
    for (let i = 0; i < 3; i++) replies.push(await listSessions({ authorization: `Bearer ${token}` }));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 429]);
  });

  it('answers WebSocket frames over budget with a RATE_LIMITED error frame and keeps the socket open', async () => {
    const socket = await TestSocket.open(server.url, 'ws-agent', { headers: asAgent('ws-agent') });
    try {
      await socket.waitFor((f) => f.type === 'welcome');
      // The upgrade took one token; three heartbeats take the rest and one more.
      for (let i = 0; i < 3; i++) socket.send({ type: 'heartbeat' });
      const error = await socket.waitFor((f) => f.type === 'error');
      expect(error).toMatchObject({ code: 'RATE_LIMITED', retry_after: expect.any(Number) });
      expect(socket.closeCode).toBeUndefined();
    } finally {
      await socket.close();
    }
  });

  it('limits each agent on its own: another agent is unaffected', async () => {
    const greedy = asAgent('greedy');
    for (let i = 0; i < 3; i++) await listSessions(greedy);
    expectLimited(await listSessions(greedy));
    const other = await listSessions(asAgent('bystander'));
    expect(other.status).toBe(200);
    expect(other.body.success).toBe(true);
  });

  it('lets the agent call again after waiting retry_after seconds', async () => {
    const headers = asAgent('patient');
    for (let i = 0; i < 3; i++) await listSessions(headers);
    const limited = await listSessions(headers);
    expectLimited(limited);
    await new Promise((r) => setTimeout(r, Number(limited.body.retry_after) * 1000 + 50));
    const again = await listSessions(headers);
    expect(again.status).toBe(200);
  });
});

/** Bursts of 3 refilled at one token every 50 s: a throttled agent stays throttled for the whole test. */
describe('a throttled agent on every surface', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_SECOND: '0.02', RATE_LIMIT_BURST: '3' });
  });
  afterAll(async () => server.cleanup());

  it('gets RATE_LIMITED with retry_after from the tool route, MCP tools/call, resources/read, prompts/get, resources/subscribe, subscriptions/listen, REST and the WebSocket upgrade', async () => {
    const headers = { 'x-api-key': server.apiKey, 'x-agent-id': 'throttled' };
    const session = await openRawSession(server.url, headers);
    const client = await connectMcp(server.url, headers);
    try {
      // Use up what is left of the burst (opening the two MCP sessions may have taken some).
      let toolRoute: Reply | undefined;
      for (let i = 0; i < 5 && toolRoute?.status !== 429; i++) {
        toolRoute = await post(server, '/mcp/tool/list_sessions', headers);
      }
      expectLimited(toolRoute as Reply, 'tool route');

      const toolCall = await callTool(client, 'list_sessions', {});
      expect(toolCall.isError).toBe(true);
      expect(toolCall.json).toMatchObject({ code: 'RATE_LIMITED', retry_after: expect.any(Number) });

      const read = await rpc(server, session, {
        method: 'resources/read',
        params: { uri: 'agent://throttled/memory' },
      });
      expectRpcLimited(read.reply, 'resources/read');

      const prompt = await rpc(server, session, {
        method: 'prompts/get',
        params: { name: 'setup-collaboration', arguments: { purpose: 'anything' } },
      });
      expectRpcLimited(prompt.reply, 'prompts/get');

      const subscribe = await rpc(server, session, {
        method: 'resources/subscribe',
        params: { uri: 'agent://throttled/inbox' },
      });
      expectRpcLimited(subscribe.reply, 'resources/subscribe');

      const listen = await rpc(server, headers, {
        method: 'subscriptions/listen',
        params: { notifications: { resourceSubscriptions: ['agent://throttled/inbox'] } },
      });
      expect(listen.status).toBe(429);
      expect(Number(listen.retryAfterHeader)).toBeGreaterThanOrEqual(1);
      expectRpcLimited(listen.reply, 'subscriptions/listen');

      expectLimited(await get(server, '/api/v1/agents', headers), 'REST');
      expectLimited(await upgrade(server, 'throttled', headers), 'WebSocket upgrade');
    } finally {
      await client.close();
    }
  });
});

/** Failed authentication: 3 attempts per address, then one more every 5 s. */
describe('failed authentication, per client address', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      RATE_LIMIT_ANONYMOUS_PER_SECOND: '0.2',
      RATE_LIMIT_ANONYMOUS_BURST: '3',
    });
  });
  afterAll(async () => server.cleanup());

  it('repeated wrong keys get RATE_LIMITED, and then a correct key from that address is held back too until retry_after', async () => {
    const wrong = `scs_${randomBytes(24).toString('base64url')}`;
    const failures = [
      await post(server, '/mcp/tool/authenticate_agent', {}, { agent_id: 'guesser', api_key: wrong }),
      await post(server, '/mcp/tool/list_sessions', { 'x-api-key': wrong, 'x-agent-id': 'guesser' }),
      await post(server, '/mcp/tool/list_sessions', { authorization: 'Bearer not.a.token' }),
    ];
    expect(failures.map((f) => f.status)).toEqual([401, 401, 401]);
    const fourth = await post(
      server,
      '/mcp/tool/authenticate_agent',
      {},
      { agent_id: 'guesser', api_key: wrong },
    );
    expectLimited(fourth, 'a fourth wrong key');
    expect(fourth.body.error).toContain('failed authentications');

    const right = { 'x-api-key': server.apiKey, 'x-agent-id': 'honest' };
    const heldBack = await post(
      server,
      '/mcp/tool/authenticate_agent',
      {},
      { agent_id: 'honest', api_key: server.apiKey },
    );
    expectLimited(heldBack, 'authenticate_agent with the right key');
    expectLimited(await post(server, '/mcp/tool/list_sessions', right), 'tool route with the right key');
    expectLimited(await get(server, '/api/v1/agents', right), 'REST with the right key');
    expectLimited(await upgrade(server, 'honest', right), 'WebSocket upgrade with the right key');
    const mcp = await rpc(server, right, {
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    expect(mcp.status).toBe(429);
    expectRpcLimited(mcp.reply, 'MCP initialize with the right key');

    await new Promise((r) => setTimeout(r, Number(heldBack.body.retry_after) * 1000 + 100));
    const served = await post(server, '/mcp/tool/list_sessions', right);
    expect(served.status).toBe(200);
  });
});

/** New agent ids cost the address: 3 at once, then one every 50 s. */
describe('rotating X-Agent-Id', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      RATE_LIMIT_ANONYMOUS_PER_SECOND: '0.02',
      RATE_LIMIT_ANONYMOUS_BURST: '3',
    });
  });
  afterAll(async () => server.cleanup());

  it('does not escape the limit: each new agent id costs the client address, known ids keep working', async () => {
    const as = (agentId: string) => ({ 'x-api-key': server.apiKey, 'x-agent-id': agentId });
    const first = [];
    for (const id of ['rot-1', 'rot-2', 'rot-3'])
      first.push(await post(server, '/mcp/tool/list_sessions', as(id)));
    expect(first.map((r) => r.status)).toEqual([200, 200, 200]);

    const fourth = await post(server, '/mcp/tool/list_sessions', as('rot-4'));
    expectLimited(fourth, 'a fourth new agent id');
    expect(fourth.body.error).toContain('new agent ids');
    expectLimited(
      await post(server, '/mcp/tool/authenticate_agent', {}, { agent_id: 'rot-5', api_key: server.apiKey }),
      'a token for a new agent id',
    );
    expectLimited(await get(server, '/api/v1/agents', as('rot-6')), 'REST as a new agent id');
    expectLimited(await upgrade(server, 'rot-7', as('rot-7')), 'WebSocket as a new agent id');

    // Agents the server already knows are limited only by their own buckets.
    expect((await post(server, '/mcp/tool/list_sessions', as('rot-1'))).status).toBe(200);
  });
});

describe('the default limits', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server.cleanup());

  it('serve a hundred agents starting at once on one address', async () => {
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        callHttpTool(
          server.url,
          'list_sessions',
          {},
          { 'x-api-key': server.apiKey, 'x-agent-id': `crowd-${i}` },
        ),
      ),
    );
    expect(replies.filter((r) => r.status !== 200)).toEqual([]);
  });
});

/** Behind a trusted proxy (TRUST_PROXY=1) the address is the one the proxy saw, from X-Forwarded-For. */
describe('per-address limits behind a trusted proxy', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      TRUST_PROXY: '1',
      RATE_LIMIT_ANONYMOUS_PER_SECOND: '0.2',
      RATE_LIMIT_ANONYMOUS_BURST: '2',
    });
  });
  afterAll(async () => server.cleanup());

  it('charges failed authentications to the client the proxy names, not to the proxy, and ignores what the client wrote before it', async () => {
    const wrong = { 'x-api-key': `scs_${randomBytes(24).toString('base64url')}`, 'x-agent-id': 'guesser' };
    // The guesser forges an address in front: the proxy appends the one it saw (203.0.113.7).
    const guesser = { ...wrong, 'x-forwarded-for': '198.51.100.1, 203.0.113.7' };
    expect((await post(server, '/mcp/tool/list_sessions', guesser)).status).toBe(401);
    expect((await post(server, '/mcp/tool/list_sessions', guesser)).status).toBe(401);
    expectLimited(await post(server, '/mcp/tool/list_sessions', guesser), 'the guesser, third try');
    // Another client behind the same proxy (same socket address) is not held back.
    const honest = { 'x-api-key': server.apiKey, 'x-agent-id': 'honest', 'x-forwarded-for': '203.0.113.8' };
    expect((await post(server, '/mcp/tool/list_sessions', honest)).status).toBe(200);
    // Nor is one whose forged entry names the guesser: only the proxy's own entry counts.
    const forged = { ...honest, 'x-forwarded-for': '203.0.113.7, 203.0.113.9' };
    expect((await post(server, '/mcp/tool/list_sessions', forged)).status).toBe(200);
  });
});
