import { WebSocket, type RawData } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { until } from './helpers/ws-client.js';

const PASSWORD = 'correct horse battery staple';

type Json = Record<string, unknown>;

async function call(
  server: TestServer,
  method: 'GET' | 'POST',
  path: string,
  options: { cookie?: string; csrf?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.cookie !== undefined) headers.cookie = options.cookie;
  if (options.csrf !== undefined) headers['x-csrf-token'] = options.csrf;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}/ui/api/${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {}, headers: res.headers };
}

/** Logs in; returns the cookie to send back (name=value) and the CSRF token. */
async function login(server: TestServer, password = PASSWORD): Promise<{ cookie: string; csrf: string }> {
  const res = await call(server, 'POST', 'login', { body: { password } });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  return { cookie: setCookie.split(';')[0] ?? '', csrf: res.body.csrf as string };
}

/** A /ui/live client that records frames; `refused` holds the HTTP answer when the upgrade was refused. */
function openLive(server: TestServer, cookie?: string) {
  const frames: Json[] = [];
  const state: { closeCode?: number; refused?: { status: number; body: Json } } = {};
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ui/live`, {
    headers: cookie ? { cookie } : {},
  });
  ws.on('message', (data: RawData) => frames.push(JSON.parse(data.toString()) as Json));
  ws.on('close', (code: number) => (state.closeCode = code));
  ws.on('error', () => undefined);
  const ready = new Promise<void>((resolve) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        req.destroy();
        state.refused = {
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Json,
        };
        resolve();
      });
    });
  });
  return { ws, frames, state, ready };
}

describe('dashboard API /ui/api', () => {
  let server: TestServer;
  let sessionId: string;
  let alice: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer({ ADMIN_PASSWORD: PASSWORD });
    alice = { authorization: `Bearer ${await tokenFor(server, 'alice', { agentType: 'claude' })}` };
    const created = await callHttpTool(server.url, 'create_session', { purpose: 'dashboard fixture' }, alice);
    sessionId = created.body.session_id as string;
    await callHttpTool(server.url, 'add_message', { session_id: sessionId, content: 'hello all' }, alice);
    await callHttpTool(
      server.url,
      'add_message',
      { session_id: sessionId, content: 'alice private thought', visibility: 'private' },
      alice,
    );
  });

  afterAll(async () => {
    await server?.cleanup();
  });

  it('refuses every API call without the login cookie', async () => {
    const res = await call(server, 'GET', 'sessions');
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
    expect((await call(server, 'GET', 'me', { cookie: 'scs_ui=not-a-jwt' })).status).toBe(401);
  });

  it('refuses a wrong password', async () => {
    const res = await call(server, 'POST', 'login', { body: { password: 'wrong password!' } });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('sets an HttpOnly, SameSite=Strict cookie for /ui, Secure only behind TLS', async () => {
    const res = await call(server, 'POST', 'login', { body: { password: PASSWORD } });
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(true);
    expect(typeof res.body.csrf).toBe('string');
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^scs_ui=[\w-]+\.[\w-]+\.[\w-]+;/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/ui');
    expect(cookie).toContain('Max-Age=43200');
    expect(cookie).not.toContain('Secure');
    const proxied = await call(server, 'POST', 'login', {
      body: { password: PASSWORD },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(proxied.headers.get('set-cookie')).toContain('; Secure');
  });

  it('with the cookie, shows sessions, counts and every message, a private one included', async () => {
    const { cookie, csrf } = await login(server);
    expect((await call(server, 'GET', 'me', { cookie })).body).toMatchObject({ user: 'dashboard', csrf });

    const list = await call(server, 'GET', 'sessions', { cookie });
    expect(list.status).toBe(200);
    const row = (list.body.sessions as Json[]).find((s) => s.session_id === sessionId);
    expect(row).toMatchObject({ purpose: 'dashboard fixture', message_count: 2, agent_count: 1 });
    expect(typeof row?.last_activity).toBe('string');
    expect(list.body).toHaveProperty('next_cursor', null);

    const filtered = await call(server, 'GET', 'sessions?q=FIXTURE&status=active', { cookie });
    expect((filtered.body.sessions as Json[]).map((s) => s.session_id)).toEqual([sessionId]);
    const none = await call(server, 'GET', 'sessions?q=nothing-like-it', { cookie });
    expect(none.body.sessions).toEqual([]);

    const one = await call(server, 'GET', `sessions/${sessionId}`, { cookie });
    expect(one.body).toMatchObject({
      session: { session_id: sessionId, message_count: 2 },
      counts: { public: 1, private: 1 },
    });

    const messages = await call(server, 'GET', `sessions/${sessionId}/messages`, { cookie });
    expect(messages.status).toBe(200);
    const contents = (messages.body.messages as Json[]).map((m) => m.content);
    expect(contents).toEqual(['hello all', 'alice private thought']);
    expect(messages.body.has_more).toBe(false);
    const firstId = (messages.body.messages as Json[])[0]?.id as number;
    const after = await call(server, 'GET', `sessions/${sessionId}/messages?after_id=${firstId}`, { cookie });
    expect((after.body.messages as Json[]).map((m) => m.content)).toEqual(['alice private thought']);

    const search = await call(server, 'GET', `sessions/${sessionId}/search?q=private%20thought`, { cookie });
    expect(search.status).toBe(200);
    expect(JSON.stringify(search.body.results)).toContain('alice private thought');

    const agents = await call(server, 'GET', 'agents', { cookie });
    expect(agents.status).toBe(200);
    expect(agents.body.agents).toBeInstanceOf(Array);

    const metrics = await call(server, 'GET', 'metrics', { cookie });
    expect(metrics.body.metrics).toHaveProperty('tools.add_message.calls', 2);

    const missing = await call(server, 'GET', 'sessions/session_0000000000000000', { cookie });
    expect(missing).toMatchObject({ status: 404, body: { code: 'SESSION_NOT_FOUND' } });
  });

  it('needs the CSRF token on every POST, and writes as the human operator', async () => {
    const { cookie, csrf } = await login(server);
    const body = { content: 'operator says hi' };
    const bare = await call(server, 'POST', `sessions/${sessionId}/messages`, { cookie, body });
    expect(bare.status).toBe(403);
    expect(bare.body.code).toBe('PERMISSION_DENIED');
    const wrong = await call(server, 'POST', `sessions/${sessionId}/messages`, { cookie, body, csrf: 'x' });
    expect(wrong.status).toBe(403);
    const sent = await call(server, 'POST', `sessions/${sessionId}/messages`, { cookie, body, csrf });
    expect(sent.status).toBe(200);
    const read = await callHttpTool(
      server.url,
      'get_message',
      { session_id: sessionId, message_id: sent.body.message_id },
      alice,
    );
    expect(read.body).toMatchObject({ message: { sender: 'dashboard', sender_type: 'human' } });
    expect((await call(server, 'POST', 'logout', { cookie })).status).toBe(403);
  });

  it("no agent on the shared key can take the operator's name, by token or by headers", async () => {
    const asOperator = await callHttpTool(server.url, 'authenticate_agent', {
      agent_id: 'dashboard',
      agent_type: 'human',
      api_key: server.apiKey,
    });
    expect(asOperator.status).toBe(403);
    expect(asOperator.body.code).toBe('PERMISSION_DENIED');
    const byHeaders = await callHttpTool(
      server.url,
      'add_message',
      { session_id: sessionId, content: 'forged operator message' },
      { 'x-api-key': server.apiKey, 'x-agent-id': 'dashboard', 'x-agent-type': 'human' },
    );
    expect(byHeaders.body.code).toBe('PERMISSION_DENIED');
  });

  it("shows mail traffic, the graph and any agent's memory; mails and archives as the operator", async () => {
    const { cookie, csrf } = await login(server);
    const bob = { authorization: `Bearer ${await tokenFor(server, 'bob', { agentType: 'claude' })}` };
    await callHttpTool(server.url, 'register_agent', { session_id: sessionId }, alice);
    await callHttpTool(server.url, 'register_agent', {}, bob);
    const first = await callHttpTool(server.url, 'send_message', { to: 'bob', content: 'review?' }, alice);
    const mailId = (first.body.message_ids as number[])[0];
    await callHttpTool(server.url, 'send_message', { to: 'alice', content: 'done', reply_to: mailId }, bob);
    await callHttpTool(server.url, 'set_memory', { key: 'plan', value: 'step one' }, bob);

    const agents = await call(server, 'GET', 'agents', { cookie });
    const byId = new Map((agents.body.agents as Json[]).map((a) => [a.agent_id, a]));
    expect(byId.get('alice')).toMatchObject({ mail: { sent: 1, received: 1 } });

    const graph = await call(server, 'GET', `graph?session_id=${sessionId}`, { cookie });
    expect(graph.body.nodes).toEqual([
      { agent_id: 'alice', agent_type: 'claude' },
      { agent_id: 'bob', agent_type: 'claude' },
    ]);
    expect(graph.body.edges).toEqual(
      expect.arrayContaining([
        { from: 'alice', to: 'bob', mail: 1, replies: 0 },
        { from: 'bob', to: 'alice', mail: 1, replies: 1 },
      ]),
    );

    const memory = await call(server, 'GET', 'memory?agent_id=bob', { cookie });
    expect(memory.body).toMatchObject({ agent_id: 'bob', entries: [{ key: 'plan', value: 'step one' }] });

    const mailed = await call(server, 'POST', 'mail', {
      cookie,
      csrf,
      body: { to: 'bob', content: 'from the human' },
    });
    expect(mailed.status).toBe(200);
    const inbox = await callHttpTool(server.url, 'get_inbox', {}, bob);
    const mail = (inbox.body.messages as Json[]).find((m) => m.from === 'dashboard');
    expect(mail).toMatchObject({ content: 'from the human', metadata: { from_human: true } });

    const exported = await fetch(`${server.url}/ui/api/sessions/${sessionId}/export?format=json`, {
      headers: { cookie },
    });
    expect(exported.headers.get('content-disposition')).toContain(`${sessionId}.json`);
    const dump = (await exported.json()) as Json;
    expect((dump.messages as Json[]).map((m) => m.content)).toContain('alice private thought');
    const md = await fetch(`${server.url}/ui/api/sessions/${sessionId}/export?format=md`, {
      headers: { cookie },
    });
    expect(await md.text()).toMatch(/^# dashboard fixture\n[\s\S]*alice private thought/);

    const archived = await call(server, 'POST', `sessions/${sessionId}/status`, {
      cookie,
      csrf,
      body: { status: 'archived' },
    });
    expect(archived.body).toMatchObject({ session: { status: 'archived' } });
    const reopened = await call(server, 'POST', `sessions/${sessionId}/status`, {
      cookie,
      csrf,
      body: { status: 'active' },
    });
    expect(reopened.body).toMatchObject({ session: { status: 'active' } });
  });

  it('revokes an agent: its key and every token it holds, whichever key minted it, end at once', async () => {
    const { cookie, csrf } = await login(server);
    const admin = { 'x-api-key': server.adminKey, 'x-agent-id': 'root' };
    const issued = await callHttpTool(
      server.url,
      'issue_agent_key',
      { agent_id: 'carol', agent_type: 'claude' },
      admin,
    );
    const key = issued.body.api_key as string;
    const asCarol = { 'x-api-key': key, 'x-agent-id': 'carol' };
    expect((await callHttpTool(server.url, 'list_sessions', {}, asCarol)).status).toBe(200);
    const viaKey = { authorization: `Bearer ${await tokenWith(server, key, 'carol')}` };
    // dave has no key of his own: his token was minted with the shared key.
    const viaShared = { authorization: `Bearer ${await tokenWith(server, server.apiKey, 'dave')}` };
    expect((await callHttpTool(server.url, 'list_sessions', {}, viaShared)).status).toBe(200);

    const revoked = await call(server, 'POST', 'agents/carol/revoke', { cookie, csrf });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ revoked: { agent_id: 'carol' }, agent: { agent_id: 'carol' } });
    expect((await callHttpTool(server.url, 'list_sessions', {}, asCarol)).status).toBe(401);
    expect((await callHttpTool(server.url, 'list_sessions', {}, viaKey)).body.code).toBe('TOKEN_REVOKED');

    const daveRevoked = await call(server, 'POST', 'agents/dave/revoke', { cookie, csrf });
    expect(daveRevoked.body).toMatchObject({ revoked: null, agent: { agent_id: 'dave' } });
    expect((await callHttpTool(server.url, 'list_sessions', {}, viaShared)).body.code).toBe('TOKEN_REVOKED');
    // A token minted after the revocation works: revoking ends what was issued, it bans no one.
    const fresh = { authorization: `Bearer ${await tokenWith(server, server.apiKey, 'dave')}` };
    expect((await callHttpTool(server.url, 'list_sessions', {}, fresh)).status).toBe(200);
    const audit = await callHttpTool(server.url, 'get_audit_log', { limit: 50 }, admin);
    expect((audit.body.entries as Array<{ action: string }>).map((e) => e.action)).toContain('revoke_agent');
  });

  it('pushes hello, then each new message, on /ui/live; refuses it without a login', async () => {
    const anonymous = openLive(server);
    await anonymous.ready;
    expect(anonymous.state.refused).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });

    const { cookie } = await login(server);
    const live = openLive(server, cookie);
    await live.ready;
    expect(live.state.refused).toBeUndefined();
    await until(() => live.frames.length > 0);
    expect(live.frames[0]).toMatchObject({ type: 'hello' });
    expect(typeof live.frames[0]?.cursor).toBe('number');

    await callHttpTool(
      server.url,
      'add_message',
      { session_id: sessionId, content: 'live one', visibility: 'private' },
      alice,
    );
    await until(() => live.frames.some((f) => f.type === 'message'));
    const frame = live.frames.find((f) => f.type === 'message');
    expect(frame?.message).toMatchObject({ session_id: sessionId, content: 'live one', sender: 'alice' });
    await callHttpTool(server.url, 'send_message', { to: 'bob', content: 'secret mail body' }, alice);
    await until(() => live.frames.some((f) => f.type === 'mail'));
    const mailFrame = live.frames.find((f) => f.type === 'mail');
    expect(mailFrame).toMatchObject({ from: 'alice', to: 'bob', reply_to: null });
    expect(JSON.stringify(mailFrame)).not.toContain('secret mail body');
    await callHttpTool(server.url, 'update_session', { session_id: sessionId, status: 'completed' }, alice);
    await until(() => live.frames.some((f) => f.type === 'session'));
    expect(live.frames.find((f) => f.type === 'session')).toEqual({
      type: 'session',
      session_id: sessionId,
      status: 'completed',
    });
    await callHttpTool(server.url, 'update_session', { session_id: sessionId, status: 'active' }, alice);
    await until(() => live.frames.some((f) => f.type === 'metrics'));
    const metrics = live.frames.find((f) => f.type === 'metrics');
    expect(metrics).toHaveProperty('tools');
    // What the charts plot: the slowest tool's p99, and open connections with this dashboard's socket.
    expect(metrics?.latency).toEqual({ p99_ms: expect.any(Number), tool: expect.any(String) });
    expect(metrics?.connections).toMatchObject({
      websockets: expect.any(Number),
      mcp_sessions: expect.any(Number),
      dashboards: 1,
    });
    live.ws.close();
  });

  it('logout ends the login: the old cookie is refused and its live socket closes', async () => {
    const { cookie, csrf } = await login(server);
    const live = openLive(server, cookie);
    await live.ready;
    await until(() => live.frames.length > 0);
    const out = await call(server, 'POST', 'logout', { cookie, csrf });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^scs_ui=; .*Max-Age=0/);
    const after = await call(server, 'GET', 'me', { cookie });
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('TOKEN_REVOKED');
    await until(() => live.state.closeCode !== undefined);
    expect(live.state.closeCode).toBe(4001);
    const again = openLive(server, cookie);
    await again.ready;
    expect(again.state.refused?.status).toBe(401);
  });

  it('serves the page: shell with CSP, the bundle and the stylesheet, revalidated by ETag', async () => {
    const redirect = await fetch(`${server.url}/ui`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/ui/');

    const html = await fetch(`${server.url}/ui/`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(html.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await html.text()).toContain('/ui/app.js');

    const js = await fetch(`${server.url}/ui/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(js.headers.get('cache-control')).toBe('no-cache');
    expect(js.headers.get('content-encoding')).toBe('gzip');
    expect((await js.text()).length).toBeGreaterThan(1000);
    const etag = js.headers.get('etag') ?? '';
    const cached = await fetch(`${server.url}/ui/app.js`, { headers: { 'if-none-match': etag } });
    expect(cached.status).toBe(304);

    // The metrics page is a chunk of its own, fetched when opened; an unknown chunk is a 404.
    const chunk = /import\("\.\/(chunk-\w+\.js)"\)/.exec(
      await (await fetch(`${server.url}/ui/app.js`)).text(),
    );
    expect(chunk).not.toBeNull();
    const page = await fetch(`${server.url}/ui/${chunk?.[1] ?? ''}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await page.text()).toContain('MetricsPage');
    expect((await fetch(`${server.url}/ui/chunk-AAAAAAAA.js`)).status).toBe(404);

    const css = await fetch(`${server.url}/ui/app.css`);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(await css.text()).toContain('.uplot');
  });
});

describe('dashboard API rate limit and login audit', () => {
  let server: TestServer;

  beforeAll(async () => {
    // The dashboard principal's bucket: 3 calls, then one back every 100 s.
    server = await startTestServer({
      ADMIN_PASSWORD: PASSWORD,
      RATE_LIMIT_PER_SECOND: '0.01',
      RATE_LIMIT_BURST: '3',
    });
  });

  afterAll(async () => {
    await server?.cleanup();
  });

  it('counts every call against the dashboard principal and answers 429 RATE_LIMITED with Retry-After', async () => {
    const { cookie } = await login(server);
    for (let i = 0; i < 3; i++) expect((await call(server, 'GET', 'me', { cookie })).status).toBe(200);
    const limited = await call(server, 'GET', 'sessions', { cookie });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ success: false, code: 'RATE_LIMITED' });
    expect(limited.body.error).toContain('requests from dashboard');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(100);
    // Another login is the same principal: same bucket. The live socket counts too.
    const other = await login(server);
    expect((await call(server, 'GET', 'me', { cookie: other.cookie })).status).toBe(429);
    const live = openLive(server, other.cookie);
    await live.ready;
    expect(live.state.refused).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
    // Without a valid cookie it is still 401: the limit applies to the login's calls only.
    expect((await call(server, 'GET', 'me')).status).toBe(401);
  });

  it('records each login and each wrong password in the audit log, with the address', async () => {
    await login(server);
    expect((await call(server, 'POST', 'login', { body: { password: 'not it' } })).status).toBe(401);
    const admin = { 'x-api-key': server.adminKey, 'x-agent-id': 'root' };
    const log = await callHttpTool(server.url, 'get_audit_log', { agent_id: 'dashboard' }, admin);
    expect(log.status).toBe(200);
    const entries = log.body.entries as Json[];
    const [failed, ok] = entries;
    expect(failed).toMatchObject({
      agent_id: 'dashboard',
      action: 'dashboard_login_failed',
      details: { address: expect.stringMatching(/127\.0\.0\.1/), reason: 'wrong password' },
    });
    expect(ok).toMatchObject({
      agent_id: 'dashboard',
      action: 'dashboard_login',
      details: { address: expect.stringMatching(/127\.0\.0\.1/), jti: expect.any(String) },
    });
    // Every login of the previous test is there too (three in all); none failed but this one.
    expect(entries.filter((e) => e.action === 'dashboard_login')).toHaveLength(3);
    expect(entries.filter((e) => e.action === 'dashboard_login_failed')).toHaveLength(1);
  });
});

describe('dashboard login limits', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      RATE_LIMIT_ANONYMOUS_BURST: '3',
      RATE_LIMIT_ANONYMOUS_PER_SECOND: '0.01',
    });
  });

  afterAll(async () => {
    await server?.cleanup();
  });

  it('takes the admin API key when ADMIN_PASSWORD is unset, and answers 429 after the failed-login burst', async () => {
    const { cookie } = await login(server, server.adminKey);
    expect((await call(server, 'GET', 'me', { cookie })).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      expect((await call(server, 'POST', 'login', { body: { password: `guess ${i}` } })).status).toBe(401);
    }
    const limited = await call(server, 'POST', 'login', { body: { password: server.adminKey } });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

/** A token for `agentId` minted with `apiKey` (the shared key, or the agent's own key). */
async function tokenWith(server: TestServer, apiKey: string, agentId: string): Promise<string> {
  const { body } = await callHttpTool(server.url, 'authenticate_agent', {
    agent_id: agentId,
    api_key: apiKey,
  });
  if (typeof body.token !== 'string') throw new Error(`authenticate_agent failed: ${JSON.stringify(body)}`);
  return body.token;
}
