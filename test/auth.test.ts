import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SignJWT, UnsecuredJWT } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectMcp, type ToolJson } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

/**
 * SPEC §3: identity, auth and permissions, over MCP (both SDK generations) and the HTTP tool
 * route. Every failure is a stable code; no secret is ever echoed back.
 */

const ISSUER = 'shared-context-server';
const AUDIENCE = 'shared-context-server/agents';
const WRONG_KEY = `scs_wrong_${randomUUID().replaceAll('-', '')}`;

let server: TestServer;
const clients: Array<{ close(): Promise<void> }> = [];

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function connect(
  headers: Record<string, string> = {},
  mode: 'legacy' | 'auto' = 'legacy',
): Promise<Client> {
  const client = await connectMcp(server.url, headers, mode);
  clients.push(client);
  return client;
}

async function connectV1(headers: Record<string, string> = {}): Promise<V1Client> {
  const client = new V1Client({ name: 'scs-test-v1', version: '1.0.0' });
  await client.connect(new V1Transport(new URL(`${server.url}/mcp`), { requestInit: { headers } }));
  clients.push(client);
  return client;
}

async function callV1(
  client: V1Client,
  name: string,
  args: Record<string, unknown>,
): Promise<{ json: ToolJson; isError: boolean }> {
  const result = await client.callTool({ name, arguments: args });
  const first = (result.content as Array<{ type: string; text?: string }>)[0];
  return { json: JSON.parse(first?.text ?? '{}') as ToolJson, isError: result.isError === true };
}

/** A token signed with `secret`, carrying the claims this server issues (overridable). */
async function signToken(
  secret: string,
  options: {
    agentId?: string;
    agentType?: string;
    permissions?: string[];
    issuedAt?: number;
    expiresAt?: number;
    issuer?: string;
    audience?: string;
  } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const agentId = options.agentId ?? 'forger';
  return new SignJWT({
    agent_id: agentId,
    agent_type: options.agentType ?? 'generic',
    permissions: options.permissions ?? ['read', 'write'],
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setSubject(agentId)
    .setJti(randomUUID())
    .setIssuedAt(options.issuedAt ?? now)
    .setExpirationTime(options.expiresAt ?? now + 3600)
    .sign(new TextEncoder().encode(secret));
}

/** The token with one character of its signature changed. */
function tamperSignature(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const i = 10;
  const replacement = signature[i] === 'A' ? 'B' : 'A';
  return `${header}.${payload}.${signature.slice(0, i)}${replacement}${signature.slice(i + 1)}`;
}

/** The token with its payload rewritten (the signature no longer matches). */
function rewritePayload(token: string, change: (claims: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  change(claims);
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}

/**
 * Asserts the call is refused with `code` on MCP (isError) and HTTP (status), with no secret echoed.
 * Header credentials that name no valid principal are refused by MCP at initialize already (a
 * session is bound to whoever opens it), with the same code.
 */
async function expectRefused(
  headers: Record<string, string>,
  name: string,
  args: Record<string, unknown>,
  code: string,
  status: number,
  secrets: string[] = [],
): Promise<void> {
  const overHttp = await callHttpTool(server.url, name, args, headers);
  expect(overHttp.status, `${name} over HTTP`).toBe(status);
  expect(overHttp.body).toMatchObject({ success: false, code });
  let overMcpText: string;
  const opened = await connect(headers).catch((error: unknown) => error as Error);
  if (opened instanceof Error) {
    expect(
      headers.authorization ?? headers['x-api-key'],
      'initialize refused without credentials',
    ).toBeDefined();
    expect(opened.message, `${name}: initialize refused`).toContain(`"code":"${code}"`);
    overMcpText = opened.message;
  } else {
    const overMcp = await callTool(opened, name, args);
    expect(overMcp.isError, `${name} over MCP`).toBe(true);
    expect(overMcp.json).toMatchObject({ success: false, code });
    expect(typeof overMcp.json.error).toBe('string');
    expect(overHttp.body).toEqual(overMcp.json);
    overMcpText = JSON.stringify(overMcp.json);
  }
  for (const secret of [...secrets, server.apiKey, server.adminKey, server.app.services.secrets.jwtSecret]) {
    expect(overMcpText).not.toContain(secret);
    expect(JSON.stringify(overHttp.body)).not.toContain(secret);
  }
}

/** One JSON-RPC request over raw HTTP to /mcp; returns the session id header and the JSON-RPC reply. */
async function rpc(
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; sessionId: string | null; reply: Record<string, unknown> | undefined }> {
  const res = await fetch(`${server.url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...body }),
  });
  const text = await res.text();
  const sessionId = res.headers.get('mcp-session-id');
  if (text.trim().length === 0) return { status: res.status, sessionId, reply: undefined };
  const data = (res.headers.get('content-type') ?? '').includes('text/event-stream')
    ? text
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trim())
        .find((line) => line.length > 0)
    : text;
  return { status: res.status, sessionId, reply: JSON.parse(data ?? '{}') as Record<string, unknown> };
}

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await server?.cleanup();
});

describe('requests without valid credentials', () => {
  it('a tool call without credentials is refused with UNAUTHORIZED (MCP isError, HTTP 401)', async () => {
    await expectRefused({}, 'list_sessions', {}, 'UNAUTHORIZED', 401);
    await expectRefused({}, 'create_session', { purpose: 'anonymous' }, 'UNAUTHORIZED', 401);
    const modern = await connect({}, 'auto');
    const overModern = await callTool(modern, 'list_sessions', {});
    expect(overModern.isError).toBe(true);
    expect(overModern.json.code).toBe('UNAUTHORIZED');
  });

  it('nothing is written by a refused anonymous call', async () => {
    const anonymous = await callHttpTool(server.url, 'create_session', { purpose: 'should not exist' });
    expect(anonymous.status).toBe(401);
    const admin = await tokenFor(server, 'auditor', { admin: true });
    const listed = await callHttpTool(server.url, 'list_sessions', { limit: 200 }, bearer(admin));
    const purposes = (listed.body.sessions as Array<{ purpose: string }>).map((s) => s.purpose);
    expect(purposes).not.toContain('should not exist');
  });

  it('authenticate_agent with a wrong API key is refused with UNAUTHORIZED, issues no token and does not echo the key', async () => {
    const args = { agent_id: 'mallory', agent_type: 'claude', api_key: WRONG_KEY };
    await expectRefused({}, 'authenticate_agent', args, 'UNAUTHORIZED', 401, [WRONG_KEY]);
    const overHttp = await callHttpTool(server.url, 'authenticate_agent', args);
    expect(overHttp.body.token).toBeUndefined();
    // The wrong key in the X-API-Key header instead of the argument: the same.
    const viaHeader = await callHttpTool(
      server.url,
      'authenticate_agent',
      { agent_id: 'mallory' },
      { 'x-api-key': WRONG_KEY },
    );
    expect(viaHeader.status).toBe(401);
    expect(viaHeader.body).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
    expect(JSON.stringify(viaHeader.body)).not.toContain(WRONG_KEY);
  });

  it('no tool but authenticate_agent succeeds without credentials', async () => {
    const client = await connect();
    const { tools } = await client.listTools();
    expect(tools.length).toBeGreaterThan(10);
    for (const tool of tools) {
      if (tool.name === 'authenticate_agent') continue;
      const overHttp = await callHttpTool(server.url, tool.name, {});
      expect(overHttp.body.success, tool.name).toBe(false);
      expect(['UNAUTHORIZED', 'INVALID_INPUT'], tool.name).toContain(overHttp.body.code);
      const overMcp = await client.callTool({ name: tool.name, arguments: {} });
      expect(overMcp.isError, tool.name).toBe(true);
    }
    // With valid arguments the refusal is UNAUTHORIZED.
    const valid: Array<[string, Record<string, unknown>]> = [
      ['list_sessions', {}],
      ['get_session', { session_id: 'session_0000000000000000' }],
      ['get_messages', { session_id: 'session_0000000000000000' }],
      ['search_context', { session_id: 'session_0000000000000000', query: 'x' }],
      ['get_usage_guidance', {}],
      ['list_memory', {}],
      ['set_memory', { key: 'k', value: 1 }],
      ['refresh_token', {}],
      ['revoke_token', {}],
      ['get_audit_log', {}],
    ];
    for (const [name, args] of valid) {
      const overHttp = await callHttpTool(server.url, name, args);
      expect(overHttp.status, name).toBe(401);
      expect(overHttp.body.code, name).toBe('UNAUTHORIZED');
    }
  });

  it('an MCP session opened with a token does not authenticate later requests that carry no credentials', async () => {
    const token = await tokenFor(server, 'session-owner');
    const init = await rpc(
      {
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      },
      bearer(token),
    );
    expect(init.status).toBe(200);
    const sessionId = init.sessionId as string;
    expect(sessionId).toEqual(expect.any(String));
    await rpc({ method: 'notifications/initialized' }, { 'mcp-session-id': sessionId, ...bearer(token) });
    const call = (id: number, headers: Record<string, string>) =>
      rpc(
        { id, method: 'tools/call', params: { name: 'get_usage_guidance', arguments: {} } },
        { 'mcp-session-id': sessionId, ...headers },
      );
    const withToken = await call(2, bearer(token));
    const okResult = withToken.reply?.result as { structuredContent?: ToolJson } | undefined;
    expect(okResult?.structuredContent).toMatchObject({ success: true, your_agent_id: 'session-owner' });
    const without = await call(3, {});
    const refused = without.reply?.result as { isError?: boolean; structuredContent?: ToolJson } | undefined;
    expect(refused?.isError).toBe(true);
    expect(refused?.structuredContent?.code).toBe('UNAUTHORIZED');
  });

  it('validation errors do not echo the API key that was sent', async () => {
    const args = { agent_id: 'bad id!', api_key: WRONG_KEY, requested_permissions: ['superuser'] };
    const overHttp = await callHttpTool(server.url, 'authenticate_agent', args);
    expect(overHttp.status).toBe(400);
    expect(overHttp.body.code).toBe('INVALID_INPUT');
    expect(JSON.stringify(overHttp.body)).not.toContain(WRONG_KEY);
    const client = await connect();
    const overMcp = await client.callTool({ name: 'authenticate_agent', arguments: args });
    expect(overMcp.isError).toBe(true);
    expect(JSON.stringify(overMcp)).not.toContain(WRONG_KEY);
  });

  it('authenticate_agent without any API key is refused with UNAUTHORIZED', async () => {
    await expectRefused({}, 'authenticate_agent', { agent_id: 'mallory' }, 'UNAUTHORIZED', 401);
  });

  it('a token with one character of its signature changed is refused with UNAUTHORIZED', async () => {
    const token = await tokenFor(server, 'alice', { agentType: 'claude' });
    const tampered = tamperSignature(token);
    expect(tampered).not.toBe(token);
    await expectRefused(bearer(tampered), 'list_sessions', {}, 'UNAUTHORIZED', 401, [tampered]);
    // The untouched token still works.
    const ok = await callHttpTool(server.url, 'list_sessions', {}, bearer(token));
    expect(ok.status).toBe(200);
  });

  it('a token whose claims were edited to add admin is refused with UNAUTHORIZED', async () => {
    const token = await tokenFor(server, 'alice', { agentType: 'claude' });
    const escalated = rewritePayload(token, (claims) => {
      claims.permissions = ['read', 'write', 'admin'];
    });
    await expectRefused(bearer(escalated), 'get_audit_log', {}, 'UNAUTHORIZED', 401);
  });

  it('a well-formed token signed with another secret is refused with UNAUTHORIZED', async () => {
    const forged = await signToken(`not-${server.app.services.secrets.jwtSecret}`, {
      agentId: 'root',
      permissions: ['read', 'write', 'admin'],
    });
    await expectRefused(bearer(forged), 'list_sessions', {}, 'UNAUTHORIZED', 401);
    await expectRefused(bearer(forged), 'get_audit_log', {}, 'UNAUTHORIZED', 401);
  });

  it('an unsigned (alg "none") token is refused with UNAUTHORIZED', async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = new UnsecuredJWT({
      agent_id: 'root',
      agent_type: 'generic',
      permissions: ['read', 'admin'],
    })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .encode();
    await expectRefused(bearer(unsigned), 'list_sessions', {}, 'UNAUTHORIZED', 401);
  });

  it('a token signed with the server secret but for another issuer or audience is refused with UNAUTHORIZED', async () => {
    const secret = server.app.services.secrets.jwtSecret;
    await expectRefused(
      bearer(await signToken(secret, { issuer: 'someone-else' })),
      'list_sessions',
      {},
      'UNAUTHORIZED',
      401,
    );
    await expectRefused(
      bearer(await signToken(secret, { audience: 'other/agents' })),
      'list_sessions',
      {},
      'UNAUTHORIZED',
      401,
    );
  });

  it('a garbage bearer value is refused with UNAUTHORIZED', async () => {
    await expectRefused(bearer('not-a-jwt'), 'list_sessions', {}, 'UNAUTHORIZED', 401);
  });
});

describe('token lifecycle', () => {
  it('a token signed with the server secret and the right claims is accepted (control for the expiry test)', async () => {
    const token = await signToken(server.app.services.secrets.jwtSecret, {
      agentId: 'minted',
      agentType: 'claude',
    });
    const res = await callHttpTool(server.url, 'get_usage_guidance', {}, bearer(token));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      your_agent_id: 'minted',
      your_permissions: ['read', 'write'],
    });
  });

  it('an expired token is refused with TOKEN_EXPIRED (HTTP 401)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await signToken(server.app.services.secrets.jwtSecret, {
      agentId: 'late',
      issuedAt: now - 7200,
      expiresAt: now - 3600,
    });
    await expectRefused(bearer(expired), 'list_sessions', {}, 'TOKEN_EXPIRED', 401);
    // Also as the auth_token argument.
    const client = await connect();
    const asArg = await callTool(client, 'list_sessions', { auth_token: expired });
    expect(asArg.json.code).toBe('TOKEN_EXPIRED');
  });

  it('a token issued by authenticate_agent carries the documented fields and claims', async () => {
    const res = await callHttpTool(server.url, 'authenticate_agent', {
      agent_id: 'claims-check',
      agent_type: 'claude',
      api_key: server.apiKey,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      agent_id: 'claims-check',
      agent_type: 'claude',
      permissions: ['read', 'write'],
      token: expect.any(String),
      expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    const [header, payload] = (res.body.token as string).split('.') as [string, string];
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({ alg: 'HS256' });
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: AUDIENCE,
      agent_id: 'claims-check',
      agent_type: 'claude',
      permissions: ['read', 'write'],
      jti: expect.any(String),
      iat: expect.any(Number),
      exp: expect.any(Number),
    });
    expect(new Date((claims.exp as number) * 1000).toISOString()).toBe(res.body.expires_at);
  });

  it('a revoked token is refused with TOKEN_REVOKED, also on an MCP connection opened before the revocation', async () => {
    const token = await tokenFor(server, 'revokee', { agentType: 'claude' });
    const client = await connect(bearer(token));
    expect((await callTool(client, 'list_sessions', {})).json.success).toBe(true);
    const revoked = await callTool(client, 'revoke_token', {});
    expect(revoked.json).toMatchObject({ success: true, agent_id: 'revokee' });
    const after = await callTool(client, 'list_sessions', {});
    expect(after.isError).toBe(true);
    expect(after.json.code).toBe('TOKEN_REVOKED');
    await expectRefused(bearer(token), 'list_sessions', {}, 'TOKEN_REVOKED', 401);
    const asArg = await callHttpTool(server.url, 'list_sessions', { auth_token: token });
    expect(asArg.status).toBe(401);
    expect(asArg.body.code).toBe('TOKEN_REVOKED');
  });

  it('an agent can revoke its own token by value, but not the token of another agent', async () => {
    const mine = await tokenFor(server, 'owner');
    const spare = await tokenFor(server, 'owner');
    const other = await tokenFor(server, 'bystander');
    const denied = await callHttpTool(server.url, 'revoke_token', { token: other }, bearer(mine));
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('PERMISSION_DENIED');
    expect((await callHttpTool(server.url, 'list_sessions', {}, bearer(other))).status).toBe(200);
    const own = await callHttpTool(server.url, 'revoke_token', { token: spare }, bearer(mine));
    expect(own.body).toMatchObject({ success: true, agent_id: 'owner' });
    expect((await callHttpTool(server.url, 'list_sessions', {}, bearer(spare))).body.code).toBe(
      'TOKEN_REVOKED',
    );
    expect((await callHttpTool(server.url, 'list_sessions', {}, bearer(mine))).status).toBe(200);
  });

  it("an agent cannot refresh another agent's token", async () => {
    const mine = await tokenFor(server, 'thief');
    const other = await tokenFor(server, 'mark');
    const res = await callHttpTool(server.url, 'refresh_token', { token: other }, bearer(mine));
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ success: false, code: 'PERMISSION_DENIED' });
    expect(res.body.token).toBeUndefined();
    expect((await callHttpTool(server.url, 'list_sessions', {}, bearer(other))).status).toBe(200);
  });

  it('a revocation survives a restart of the server', async () => {
    const own = await startTestServer();
    try {
      const token = await tokenFor(own, 'durable');
      expect((await callHttpTool(own.url, 'revoke_token', {}, bearer(token))).status).toBe(200);
      await own.stop();
      const again = await startTestServer({}, own.dataDir);
      try {
        const res = await callHttpTool(again.url, 'list_sessions', {}, bearer(token));
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('TOKEN_REVOKED');
        const fresh = await tokenFor(again, 'durable');
        expect((await callHttpTool(again.url, 'list_sessions', {}, bearer(fresh))).status).toBe(200);
      } finally {
        await again.stop();
      }
    } finally {
      await own.cleanup();
    }
  });

  it("an admin can revoke another agent's token", async () => {
    const admin = await tokenFor(server, 'root', { admin: true });
    const victim = await tokenFor(server, 'victim');
    const res = await callHttpTool(server.url, 'revoke_token', { token: victim }, bearer(admin));
    expect(res.body).toMatchObject({ success: true, agent_id: 'victim' });
    expect((await callHttpTool(server.url, 'list_sessions', {}, bearer(victim))).body.code).toBe(
      'TOKEN_REVOKED',
    );
  });

  it('refresh_token returns a new working token for the same agent and permissions, and the old one is revoked', async () => {
    const old = await tokenFor(server, 'refresher', { agentType: 'cursor' });
    const client = await connect(bearer(old));
    const refreshed = await callTool(client, 'refresh_token', {});
    expect(refreshed.isError).toBe(false);
    expect(refreshed.json).toMatchObject({
      success: true,
      agent_id: 'refresher',
      agent_type: 'cursor',
      permissions: ['read', 'write'],
      token: expect.any(String),
      expires_at: expect.any(String),
    });
    const fresh = refreshed.json.token as string;
    expect(fresh).not.toBe(old);
    const withFresh = await callHttpTool(server.url, 'get_usage_guidance', {}, bearer(fresh));
    expect(withFresh.body).toMatchObject({ success: true, your_agent_id: 'refresher' });
    await expectRefused(bearer(old), 'list_sessions', {}, 'TOKEN_REVOKED', 401);
    // A revoked token cannot be refreshed either.
    const again = await callHttpTool(server.url, 'refresh_token', { token: old }, bearer(fresh));
    expect(again.status).toBe(401);
    expect(again.body.code).toBe('TOKEN_REVOKED');
  });

  it('refresh_token over HTTP with the token as argument also revokes it', async () => {
    const old = await tokenFor(server, 'refresher2');
    const res = await callHttpTool(server.url, 'refresh_token', { auth_token: old });
    expect(res.status).toBe(200);
    const fresh = res.body.token as string;
    expect((await callHttpTool(server.url, 'list_sessions', { auth_token: fresh })).status).toBe(200);
    expect((await callHttpTool(server.url, 'list_sessions', { auth_token: old })).body.code).toBe(
      'TOKEN_REVOKED',
    );
  });
});

describe('permissions', () => {
  it('the plain API key requesting admin is refused with PERMISSION_DENIED and no token', async () => {
    const args = {
      agent_id: 'climber',
      agent_type: 'claude',
      api_key: server.apiKey,
      requested_permissions: ['read', 'write', 'admin'],
    };
    await expectRefused({}, 'authenticate_agent', args, 'PERMISSION_DENIED', 403);
    const overHttp = await callHttpTool(server.url, 'authenticate_agent', args);
    expect(overHttp.body.token).toBeUndefined();
  });

  it('the admin key grants admin', async () => {
    const res = await callHttpTool(server.url, 'authenticate_agent', {
      agent_id: 'root',
      api_key: server.adminKey,
      requested_permissions: ['read', 'write', 'admin'],
    });
    expect(res.body).toMatchObject({ success: true, permissions: ['read', 'write', 'admin'] });
  });

  it('get_audit_log is refused with PERMISSION_DENIED for a normal token (HTTP 403)', async () => {
    const token = await tokenFor(server, 'alice', { agentType: 'claude' });
    await expectRefused(bearer(token), 'get_audit_log', {}, 'PERMISSION_DENIED', 403);
  });

  it('get_audit_log with the admin token shows the recorded actions', async () => {
    const token = await tokenFor(server, 'audited', { agentType: 'claude' });
    const created = await callHttpTool(server.url, 'create_session', { purpose: 'audit me' }, bearer(token));
    const sessionId = created.body.session_id as string;
    await callHttpTool(
      server.url,
      'add_message',
      { session_id: sessionId, content: 'logged' },
      bearer(token),
    );
    await callHttpTool(server.url, 'revoke_token', {}, bearer(token));
    const admin = await tokenFor(server, 'root', { admin: true });
    const client = await connect(bearer(admin));
    const log = await callTool(client, 'get_audit_log', { agent_id: 'audited' });
    expect(log.isError).toBe(false);
    const entries = log.json.entries as Array<{
      action: string;
      agent_id: string;
      session_id: string | null;
    }>;
    expect(entries.every((e) => e.agent_id === 'audited')).toBe(true);
    expect(entries.map((e) => e.action)).toEqual(
      expect.arrayContaining(['authenticate_agent', 'create_session', 'add_message', 'revoke_token']),
    );
    const bySession = await callHttpTool(
      server.url,
      'get_audit_log',
      { session_id: sessionId },
      bearer(admin),
    );
    expect(bySession.status).toBe(200);
    const sessionEntries = bySession.body.entries as Array<{ action: string; session_id: string }>;
    expect(sessionEntries.map((e) => e.action).sort()).toEqual(['add_message', 'create_session']);
    expect(sessionEntries.every((e) => e.session_id === sessionId)).toBe(true);
    // Audit entries never carry a secret.
    const text = JSON.stringify(log.json);
    for (const secret of [server.apiKey, server.adminKey, server.app.services.secrets.jwtSecret]) {
      expect(text).not.toContain(secret);
    }
  });

  it('declaring agent_type "admin" does not raise permissions', async () => {
    const res = await callHttpTool(server.url, 'authenticate_agent', {
      agent_id: 'pretender',
      agent_type: 'admin',
      api_key: server.apiKey,
    });
    expect(res.body).toMatchObject({ success: true, agent_type: 'admin', permissions: ['read', 'write'] });
    const token = res.body.token as string;
    await expectRefused(bearer(token), 'get_audit_log', {}, 'PERMISSION_DENIED', 403);
    const session = await callHttpTool(server.url, 'create_session', { purpose: 'pretend' }, bearer(token));
    await expectRefused(
      bearer(token),
      'add_message',
      { session_id: session.body.session_id, content: 'x', visibility: 'admin_only' },
      'PERMISSION_DENIED',
      403,
    );
    // Nor does the X-Agent-Type header on API-key auth.
    const headers = { 'x-api-key': server.apiKey, 'x-agent-id': 'pretender2', 'x-agent-type': 'admin' };
    await expectRefused(headers, 'get_audit_log', {}, 'PERMISSION_DENIED', 403);
  });

  it('a read-only token can read but not write', async () => {
    const res = await callHttpTool(server.url, 'authenticate_agent', {
      agent_id: 'reader',
      api_key: server.apiKey,
      requested_permissions: ['read'],
    });
    expect(res.body.permissions).toEqual(['read']);
    const token = res.body.token as string;
    expect((await callHttpTool(server.url, 'list_sessions', {}, bearer(token))).status).toBe(200);
    await expectRefused(bearer(token), 'create_session', { purpose: 'nope' }, 'PERMISSION_DENIED', 403);
  });
});

describe('other ways to authenticate', () => {
  it('X-API-Key and X-Agent-Id headers authenticate the agent directly on the HTTP tool route', async () => {
    const headers = { 'x-api-key': server.apiKey, 'x-agent-id': 'static-http', 'x-agent-type': 'cursor' };
    const created = await callHttpTool(server.url, 'create_session', { purpose: 'static headers' }, headers);
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ success: true, created_by: 'static-http' });
    const sessionId = created.body.session_id as string;
    const added = await callHttpTool(
      server.url,
      'add_message',
      { session_id: sessionId, content: 'hi' },
      headers,
    );
    const got = await callHttpTool(
      server.url,
      'get_message',
      { session_id: sessionId, message_id: added.body.message_id },
      headers,
    );
    expect(got.body.message).toMatchObject({ sender: 'static-http', sender_type: 'cursor' });
    const who = await callHttpTool(server.url, 'get_usage_guidance', {}, headers);
    expect(who.body).toMatchObject({ your_agent_id: 'static-http', your_permissions: ['read', 'write'] });
  });

  it('X-API-Key and X-Agent-Id headers authenticate an MCP client configured with fixed headers', async () => {
    const client = await connect({ 'x-api-key': server.apiKey, 'x-agent-id': 'static-mcp' });
    const created = await callTool(client, 'create_session', { purpose: 'static mcp' });
    expect(created.json).toMatchObject({ success: true, created_by: 'static-mcp' });
    const resource = await client.readResource({ uri: `session://${created.json.session_id as string}` });
    const first = resource.contents[0] as { text: string };
    expect(JSON.parse(first.text)).toMatchObject({ session: { created_by: 'static-mcp' } });
    const v1 = await connectV1({ 'x-api-key': server.apiKey, 'x-agent-id': 'static-v1' });
    expect((await callV1(v1, 'get_usage_guidance', {})).json.your_agent_id).toBe('static-v1');
  });

  it('an X-Agent-Id that is not a valid agent id is refused with UNAUTHORIZED', async () => {
    for (const agentId of ['bad agent', 'a'.repeat(101), 'x/y', 'semi;colon']) {
      await expectRefused(
        { 'x-api-key': server.apiKey, 'x-agent-id': agentId },
        'list_sessions',
        {},
        'UNAUTHORIZED',
        401,
      );
    }
  });

  it('X-API-Key without X-Agent-Id, or with a wrong key, is refused with UNAUTHORIZED and the key is not echoed', async () => {
    await expectRefused({ 'x-api-key': server.apiKey }, 'list_sessions', {}, 'UNAUTHORIZED', 401);
    await expectRefused(
      { 'x-api-key': WRONG_KEY, 'x-agent-id': 'mallory' },
      'list_sessions',
      {},
      'UNAUTHORIZED',
      401,
      [WRONG_KEY],
    );
  });

  it('authenticate_agent accepts the API key as the X-API-Key header', async () => {
    const res = await callHttpTool(
      server.url,
      'authenticate_agent',
      { agent_id: 'header-key' },
      { 'x-api-key': server.apiKey },
    );
    expect(res.body).toMatchObject({ success: true, agent_id: 'header-key', permissions: ['read', 'write'] });
  });

  it('the auth_token argument authenticates a client that sends no headers, over MCP and HTTP', async () => {
    const client = await connect();
    const issued = await callTool(client, 'authenticate_agent', {
      agent_id: 'headless',
      agent_type: 'claude',
      api_key: server.apiKey,
    });
    expect(issued.json.success).toBe(true);
    const token = issued.json.token as string;
    const created = await callTool(client, 'create_session', { purpose: 'no headers', auth_token: token });
    expect(created.json).toMatchObject({ success: true, created_by: 'headless' });
    const overHttp = await callHttpTool(server.url, 'get_session', {
      session_id: created.json.session_id,
      auth_token: token,
    });
    expect(overHttp.status).toBe(200);
    expect(overHttp.body).toMatchObject({ success: true, session: { created_by: 'headless' } });
    const bad = await callTool(client, 'list_sessions', { auth_token: tamperSignature(token) });
    expect(bad.json.code).toBe('UNAUTHORIZED');
  });
});

describe('the other surfaces need the same auth', () => {
  /** Opens /ws/{agentId}; resolves with the HTTP status of a refused upgrade, or 101 when it opens. */
  const openSocket = (agentId: string, headers: Record<string, string>, query = '') =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws/${agentId}${query}`, { headers });
      ws.once('open', () => {
        ws.close();
        resolve({ status: 101, body: '' });
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.once('error', reject);
    });

  it('the agent REST API refuses a request without valid credentials and serves one with a token', async () => {
    const anonymous = await fetch(`${server.url}/api/v1/agents`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
    const tampered = await fetch(`${server.url}/api/v1/agents`, {
      headers: bearer(tamperSignature(await tokenFor(server, 'rest-agent'))),
    });
    expect(tampered.status).toBe(401);
    const wrongKey = await fetch(`${server.url}/api/v1/agents`, {
      headers: { 'x-api-key': WRONG_KEY, 'x-agent-id': 'rest-agent' },
    });
    expect(wrongKey.status).toBe(401);
    expect(await wrongKey.text()).not.toContain(WRONG_KEY);
    const ok = await fetch(`${server.url}/api/v1/agents`, {
      headers: bearer(await tokenFor(server, 'rest-agent')),
    });
    expect(ok.status).toBe(200);
  });

  it('the WebSocket refuses an upgrade without valid credentials or for another agent, and opens for the agent itself', async () => {
    expect((await openSocket('ws-agent', {})).status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const expired = await signToken(server.app.services.secrets.jwtSecret, {
      agentId: 'ws-agent',
      issuedAt: now - 7200,
      expiresAt: now - 3600,
    });
    const refusedExpired = await openSocket('ws-agent', bearer(expired));
    expect(refusedExpired.status).toBe(401);
    expect(refusedExpired.body).toContain('TOKEN_EXPIRED');
    const token = await tokenFor(server, 'ws-agent');
    expect((await openSocket('someone-else', bearer(token))).status).toBe(403);
    expect((await openSocket('ws-agent', bearer(token))).status).toBe(101);
    const revoked = await tokenFor(server, 'ws-agent');
    await callHttpTool(server.url, 'revoke_token', {}, bearer(revoked));
    const refusedRevoked = await openSocket('ws-agent', {}, `?token=${encodeURIComponent(revoked)}`);
    expect(refusedRevoked.status).toBe(401);
    expect(refusedRevoked.body).toContain('TOKEN_REVOKED');
  });
});

describe('revocation and open connections', () => {
  it('a WebSocket opened with a token receives no session messages after that token is revoked', async () => {
    const writer = await tokenFor(server, 'ws-writer');
    const created = await callHttpTool(
      server.url,
      'create_session',
      { purpose: 'ws revocation' },
      bearer(writer),
    );
    const sessionId = created.body.session_id as string;
    const token = await tokenFor(server, 'ws-listener');
    const frames: Array<Record<string, unknown>> = [];
    let closed = false;
    const waiters: Array<() => void> = [];
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws/ws-listener`, {
      headers: bearer(token),
    });
    ws.on('message', (data: Buffer) => {
      frames.push(JSON.parse(data.toString()) as Record<string, unknown>);
      waiters.splice(0).forEach((w) => w());
    });
    ws.on('close', () => {
      closed = true;
      waiters.splice(0).forEach((w) => w());
    });
    /** Resolves once a frame matching `match` has arrived, or the socket is closed. */
    const until = async (match: (f: Record<string, unknown>) => boolean) => {
      while (!closed && !frames.some(match)) await new Promise<void>((resolve) => waiters.push(resolve));
    };
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.send(JSON.stringify({ type: 'subscribe', session_id: sessionId }));
      await until((f) => f.type === 'subscribed' || f.type === 'error');
      expect(frames.some((f) => f.type === 'subscribed')).toBe(true);
      // Control: while the token is valid, a public message is pushed.
      await callHttpTool(
        server.url,
        'add_message',
        { session_id: sessionId, content: 'before revoke' },
        bearer(writer),
      );
      await until((f) => f.type === 'session_message');
      expect(frames.filter((f) => f.type === 'session_message')).toHaveLength(1);

      expect((await callHttpTool(server.url, 'revoke_token', {}, bearer(token))).status).toBe(200);
      await callHttpTool(
        server.url,
        'add_message',
        { session_id: sessionId, content: 'after revoke' },
        bearer(writer),
      );
      // The push of "after revoke" (if any) was queued before add_message answered; a heartbeat sent now is
      // answered after it on the same socket, so by its answer (or the close) every leak has arrived.
      if (!closed) ws.send(JSON.stringify({ type: 'heartbeat' }));
      await until((f) => f.type === 'heartbeat_ack' || f.type === 'error');
      const leaked = frames.filter(
        (f) => f.type === 'session_message' && (f.message as { content?: string }).content === 'after revoke',
      );
      expect(leaked).toEqual([]);
    } finally {
      ws.close();
    }
  });
});

describe('MCP discovery and resources', () => {
  it.each(['legacy', 'auto'] as const)(
    'discovery (initialize, ping, tools/list, prompts/list, resources/templates/list, logging/setLevel) answers without auth (%s era)',
    async (mode) => {
      const client = await connect({}, mode);
      expect(client.getProtocolEra()).toBe(mode === 'auto' ? 'modern' : 'legacy');
      // ping and logging/setLevel are 2025-era methods; the 2026 era drops them.
      if (mode === 'legacy') await client.ping();
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name)).toEqual(
        expect.arrayContaining(['authenticate_agent', 'create_session', 'add_message', 'get_messages']),
      );
      const prompts = await client.listPrompts();
      expect(prompts.prompts.map((p) => p.name)).toEqual(
        expect.arrayContaining(['setup-collaboration', 'debug-session']),
      );
      const templates = await client.listResourceTemplates();
      expect(templates.resourceTemplates.map((t) => t.uriTemplate)).toEqual(
        expect.arrayContaining(['session://{session_id}', 'session://{session_id}/messages/{limit}']),
      );
      if (mode === 'legacy') await client.setLoggingLevel('info');
    },
  );

  it.each(['legacy', 'auto'] as const)(
    'resources/read without auth fails and reveals nothing of the session (%s era)',
    async (mode) => {
      const token = await tokenFor(server, 'owner-r');
      const created = await callHttpTool(
        server.url,
        'create_session',
        { purpose: 'hidden purpose', initial_message: 'hidden content' },
        bearer(token),
      );
      const sessionId = created.body.session_id as string;
      const client = await connect({}, mode);
      for (const uri of [`session://${sessionId}`, `session://${sessionId}/messages/10`]) {
        const error = await client.readResource({ uri }, { cacheMode: 'bypass' }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, uri).toBeInstanceOf(Error);
        const text = `${String((error as Error).message)} ${JSON.stringify((error as { data?: unknown }).data ?? null)}`;
        expect(text).not.toContain('hidden');
        expect(text).toMatch(/UNAUTHORIZED|auth/i);
      }
    },
  );

  it("an agent cannot read another agent's memory resource", async () => {
    const token = await tokenFor(server, 'nosy');
    const client = await connect(bearer(token));
    const own = await client.readResource({ uri: 'agent://nosy/memory' }, { cacheMode: 'bypass' });
    expect(own.contents).toHaveLength(1);
    await expect(
      client.readResource({ uri: 'agent://someone-else/memory' }, { cacheMode: 'bypass' }),
    ).rejects.toThrow();
  });

  it('prompts/get is not discovery: without auth it is refused like every other non-discovery request', async () => {
    const client = await connect();
    await expect(
      client.getPrompt({ name: 'setup-collaboration', arguments: { purpose: 'anything' } }),
    ).rejects.toThrow(/UNAUTHORIZED|auth/i);
    const token = await tokenFor(server, 'prompter');
    const authed = await connect(bearer(token));
    const prompt = await authed.getPrompt({
      name: 'setup-collaboration',
      arguments: { purpose: 'anything' },
    });
    expect(prompt.messages.length).toBeGreaterThan(0);
  });

  it('the debug-session prompt without auth fails', async () => {
    const client = await connect();
    await expect(
      client.getPrompt({ name: 'debug-session', arguments: { session_id: 'session_0000000000000000' } }),
    ).rejects.toThrow();
  });

  it('authenticate_agent works over MCP without auth', async () => {
    const client = await connect();
    const issued = await callTool(client, 'authenticate_agent', {
      agent_id: 'newcomer',
      api_key: server.apiKey,
    });
    expect(issued.json).toMatchObject({ success: true, agent_id: 'newcomer', token: expect.any(String) });
  });
});

describe('the v1 SDK client (@modelcontextprotocol/sdk 1.x)', () => {
  it('connects with a bearer token, lists and calls tools, and reads a resource', async () => {
    const token = await tokenFor(server, 'old-client', { agentType: 'claude' });
    const client = await connectV1(bearer(token));
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('add_message');
    const created = await callV1(client, 'create_session', { purpose: 'v1 client' });
    expect(created.json).toMatchObject({ success: true, created_by: 'old-client' });
    const sessionId = created.json.session_id as string;
    const added = await callV1(client, 'add_message', { session_id: sessionId, content: 'from v1' });
    expect(added.json).toMatchObject({ success: true, message_id: expect.any(Number) });
    const page = await callV1(client, 'get_messages', { session_id: sessionId });
    expect(page.json.messages).toMatchObject([{ content: 'from v1', sender: 'old-client' }]);
    const resource = await client.readResource({ uri: `session://${sessionId}/messages/5` });
    const first = resource.contents[0] as { text: string };
    expect(JSON.parse(first.text)).toMatchObject({ count: 1 });
  });

  it('without credentials gets UNAUTHORIZED, and can authenticate and use auth_token', async () => {
    const client = await connectV1();
    const anonymous = await callV1(client, 'list_sessions', {});
    expect(anonymous.isError).toBe(true);
    expect(anonymous.json.code).toBe('UNAUTHORIZED');
    const issued = await callV1(client, 'authenticate_agent', {
      agent_id: 'old-headless',
      api_key: server.apiKey,
    });
    expect(issued.json.success).toBe(true);
    const listed = await callV1(client, 'list_sessions', { auth_token: issued.json.token });
    expect(listed.json.success).toBe(true);
    await expect(client.readResource({ uri: 'session://session_0000000000000000' })).rejects.toThrow();
  });
});
