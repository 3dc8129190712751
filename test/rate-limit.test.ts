import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectMcp } from './helpers/mcp-client.js';
import { startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { TestSocket } from './helpers/ws-client.js';

type Reply = { status: number; body: Record<string, unknown>; retryAfterHeader: string | null };

/** 2 requests/s sustained, bursts of 3: the 4th quick call of an agent is over budget. */
describe('rate limiting per agent', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_SECOND: '2', RATE_LIMIT_BURST: '3' });
  });
  afterAll(async () => server.cleanup());

  async function post(path: string, headers: Record<string, string>, body: unknown = {}): Promise<Reply> {
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

  async function get(path: string, headers: Record<string, string>): Promise<Reply> {
    const res = await fetch(`${server.url}${path}`, { headers });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
      retryAfterHeader: res.headers.get('retry-after'),
    };
  }

  const bearer = async (agentId: string) => ({ authorization: `Bearer ${await tokenFor(server, agentId)}` });
  const listSessions = (headers: Record<string, string>) => post('/mcp/tool/list_sessions', headers);

  function expectLimited(reply: Reply): void {
    expect(reply.status).toBe(429);
    expect(reply.body).toMatchObject({ success: false, code: 'RATE_LIMITED' });
    expect(reply.body.retry_after).toBeGreaterThan(0);
    expect(Number(reply.retryAfterHeader)).toBeGreaterThanOrEqual(1);
  }

  it('answers the 4th quick call over the HTTP tool route with 429 RATE_LIMITED, retry_after and Retry-After', async () => {
    const headers = await bearer('http-agent');
    const replies: Reply[] = [];
    for (let i = 0; i < 4; i++) replies.push(await listSessions(headers));
    expect(replies.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    expectLimited(replies[3] as Reply);
    expect(replies[3]?.body.error).toEqual(expect.any(String));
  });

  it('answers the 4th quick tool call over MCP with an isError RATE_LIMITED result', async () => {
    const client = await connectMcp(server.url, await bearer('mcp-agent'));
    try {
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await callTool(client, 'list_sessions', {}));
      expect(results.slice(0, 3).map((r) => r.isError)).toEqual([false, false, false]);
      expect(results[3]?.isError).toBe(true);
      expect(results[3]?.json).toMatchObject({ success: false, code: 'RATE_LIMITED' });
      expect(results[3]?.json.retry_after).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it('answers the 4th quick REST call with 429', async () => {
    const headers = { 'x-api-key': server.apiKey, 'x-agent-id': 'rest-agent' };
    const replies: Reply[] = [];
    for (let i = 0; i < 4; i++) replies.push(await get('/api/v1/agents', headers));
    expect(replies.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    expectLimited(replies[3] as Reply);
  });

  it('answers WebSocket frames over budget with a RATE_LIMITED error frame and keeps the socket open', async () => {
    const socket = await TestSocket.open(server.url, 'ws-agent', {
      query: { token: await tokenFor(server, 'ws-agent') },
    });
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
    const greedy = await bearer('greedy');
    for (let i = 0; i < 3; i++) await listSessions(greedy);
    expectLimited(await listSessions(greedy));
    const other = await listSessions(await bearer('bystander'));
    expect(other.status).toBe(200);
    expect(other.body.success).toBe(true);
  });

  it('lets the agent call again after waiting retry_after seconds', async () => {
    const headers = await bearer('patient');
    for (let i = 0; i < 3; i++) await listSessions(headers);
    const limited = await listSessions(headers);
    expectLimited(limited);
    await new Promise((r) => setTimeout(r, Number(limited.body.retry_after) * 1000 + 50));
    const again = await listSessions(headers);
    expect(again.status).toBe(200);
  });
});
