import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRawDatabase, testDatabaseUrl } from './helpers/database.js';
import { callTool, connectMcp } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { TestSocket, type RefusedUpgrade, until } from './helpers/ws-client.js';

/**
 * SPEC §3 agent keys: a key bound to one agent id and type. With REQUIRE_AGENT_KEYS the shared key
 * cannot act as an agent that has its own key; revoking a key ends its tokens, sockets and
 * subscriptions — also when the CLI (another process on the same database) revokes it.
 */

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '..');

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const keyHeaders = (key: string, agentId?: string) => ({
  'x-api-key': key,
  ...(agentId !== undefined ? { 'x-agent-id': agentId } : {}),
});

async function adminToken(server: TestServer): Promise<string> {
  return tokenFor(server, 'key-admin', { admin: true });
}

async function issueKey(server: TestServer, agentId: string, agentType: string): Promise<string> {
  const { status, body } = await callHttpTool(
    server.url,
    'issue_agent_key',
    { agent_id: agentId, agent_type: agentType },
    bearer(await adminToken(server)),
  );
  expect(status, JSON.stringify(body)).toBe(200);
  expect(body).toMatchObject({ agent_id: agentId, agent_type: agentType, status: 'active' });
  return body.api_key as string;
}

/** Who the server takes the caller for (get_usage_guidance answers with it). */
async function whoAmI(
  server: TestServer,
  headers: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return callHttpTool(server.url, 'get_usage_guidance', {}, headers);
}

/** The CLI in its own process, on the server's data directory. */
async function cli(server: TestServer, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const databaseUrl = await testDatabaseUrl(server.dataDir);
  return run('npx', ['tsx', 'src/cli/main.ts', ...args], {
    cwd: REPO,
    env: {
      ...process.env,
      DATA_DIR: server.dataDir,
      LOG_LEVEL: 'silent',
      ...(databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl }),
    },
    timeout: 60_000,
  });
}

describe('with REQUIRE_AGENT_KEYS=true', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ REQUIRE_AGENT_KEYS: 'true' });
  });
  afterAll(async () => server.cleanup());

  it('a second agent holding the shared key cannot act as an agent that has its own key: not by header, not by authenticate_agent, not with an older token', async () => {
    const olderToken = await tokenFor(server, 'reviewer', { agentType: 'claude' });
    expect((await whoAmI(server, bearer(olderToken))).status).toBe(200);

    const agentKey = await issueKey(server, 'reviewer', 'claude');

    const byHeader = await whoAmI(server, keyHeaders(server.apiKey, 'reviewer'));
    expect(byHeader.status).toBe(403);
    expect(byHeader.body).toMatchObject({ success: false, code: 'PERMISSION_DENIED' });
    expect(byHeader.body.error).toContain('REQUIRE_AGENT_KEYS');

    const byToken = await callHttpTool(server.url, 'authenticate_agent', {
      agent_id: 'reviewer',
      agent_type: 'claude',
      api_key: server.apiKey,
    });
    expect(byToken.status).toBe(403);
    expect(byToken.body).toMatchObject({ success: false, code: 'PERMISSION_DENIED' });
    expect(byToken.body.token).toBeUndefined();

    const withOlderToken = await whoAmI(server, bearer(olderToken));
    expect(withOlderToken.status).toBe(403);
    expect(withOlderToken.body.code).toBe('PERMISSION_DENIED');

    // The agent itself, with its key: by header, and through a token.
    const own = await whoAmI(server, keyHeaders(agentKey, 'reviewer'));
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ your_agent_id: 'reviewer', your_permissions: ['read', 'write'] });
    const issued = await callHttpTool(server.url, 'authenticate_agent', { api_key: agentKey });
    expect(issued.body).toMatchObject({ success: true, agent_id: 'reviewer', agent_type: 'claude' });
    expect((await whoAmI(server, bearer(issued.body.token as string))).status).toBe(200);

    // Agents without a key of their own still use the shared key, and the admin key may act as anyone.
    expect((await whoAmI(server, keyHeaders(server.apiKey, 'writer'))).status).toBe(200);
    expect((await whoAmI(server, keyHeaders(server.adminKey, 'reviewer'))).status).toBe(200);
  });

  it('issuing a key closes the WebSocket the shared key had opened as that agent', async () => {
    const socket = await TestSocket.open(server.url, 'late-keyed', {
      headers: keyHeaders(server.apiKey, 'late-keyed'),
    });
    try {
      await socket.waitFor((f) => f.type === 'welcome');
      await issueKey(server, 'late-keyed', 'generic');
      await until(() => socket.closeCode !== undefined);
      expect(socket.closeCode).toBe(4001);
    } finally {
      await socket.close();
    }
  });
});

describe('agent keys', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server.cleanup());

  it('without REQUIRE_AGENT_KEYS the shared key can still act as an agent that has its own key', async () => {
    await issueKey(server, 'lenient', 'claude');
    expect((await whoAmI(server, keyHeaders(server.apiKey, 'lenient'))).status).toBe(200);
    const token = await tokenFor(server, 'lenient', { agentType: 'claude' });
    expect((await whoAmI(server, bearer(token))).body.your_agent_id).toBe('lenient');
  });

  it('an agent key cannot act as another agent id or type, nor get admin', async () => {
    const key = await issueKey(server, 'bound', 'claude');
    const asOther = await whoAmI(server, keyHeaders(key, 'somebody-else'));
    expect(asOther.status).toBe(403);
    expect(asOther.body).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(asOther.body.error).toContain('bound');
    const tokenAsOther = await callHttpTool(server.url, 'authenticate_agent', {
      agent_id: 'somebody-else',
      api_key: key,
    });
    expect(tokenAsOther.status).toBe(403);
    expect(tokenAsOther.body.token).toBeUndefined();
    const otherType = await callHttpTool(server.url, 'authenticate_agent', {
      agent_id: 'bound',
      agent_type: 'cursor',
      api_key: key,
    });
    expect(otherType.status).toBe(403);
    expect(otherType.body.error).toContain('claude');
    const admin = await callHttpTool(server.url, 'authenticate_agent', {
      api_key: key,
      requested_permissions: ['read', 'write', 'admin'],
    });
    expect(admin.status).toBe(403);
    // Without X-Agent-Id the key names its agent; the declared type cannot change visibility.
    const implicit = await whoAmI(server, keyHeaders(key));
    expect(implicit.body).toMatchObject({ success: true, your_agent_id: 'bound' });
    // A made-up key that looks like an agent key is just a wrong key.
    const forged = await whoAmI(server, keyHeaders(`${key.slice(0, -4)}AAAA`, 'bound'));
    expect(forged.status).toBe(401);
    expect(forged.body.code).toBe('UNAUTHORIZED');
  });

  it('only an admin issues, revokes and lists keys, and the list never shows a key', async () => {
    const key = await issueKey(server, 'listed', 'researcher');
    const agent = bearer(await tokenFor(server, 'not-admin'));
    for (const [name, args] of [
      ['issue_agent_key', { agent_id: 'x', agent_type: 'y' }],
      ['revoke_agent_key', { agent_id: 'listed' }],
      ['list_agent_keys', {}],
    ] as const) {
      const refused = await callHttpTool(server.url, name, args, agent);
      expect(refused.status, name).toBe(403);
    }
    const admin = bearer(await adminToken(server));
    const listed = await callHttpTool(server.url, 'list_agent_keys', {}, admin);
    expect(listed.status).toBe(200);
    const keys = listed.body.keys as Array<Record<string, unknown>>;
    expect(keys.find((k) => k.agent_id === 'listed')).toMatchObject({
      agent_type: 'researcher',
      status: 'active',
      created_by: 'key-admin',
    });
    expect(JSON.stringify(listed.body)).not.toContain(key);
    expect(JSON.stringify(listed.body)).not.toContain(createHash('sha256').update(key).digest('hex'));
    const missing = await callHttpTool(server.url, 'revoke_agent_key', { agent_id: 'never-keyed' }, admin);
    expect(missing.status).toBe(404);
  });

  it("revoking an agent's key ends its token, its WebSocket (4001) and its MCP resource subscription", async () => {
    const key = await issueKey(server, 'revoked-agent', 'claude');
    const token = (await callHttpTool(server.url, 'authenticate_agent', { api_key: key })).body
      .token as string;
    expect((await whoAmI(server, bearer(token))).status).toBe(200);

    const writer = bearer(await tokenFor(server, 'writer'));
    const created = await callHttpTool(server.url, 'create_session', { purpose: 'revocation' }, writer);
    const sessionId = created.body.session_id as string;
    const uri = `session://${sessionId}`;
    const post = (content: string) =>
      callHttpTool(server.url, 'add_message', { session_id: sessionId, content }, writer);

    const socket = await TestSocket.open(server.url, 'revoked-agent', { query: { token } });
    const clients: Client[] = [];
    try {
      await socket.waitFor((f) => f.type === 'welcome');
      const revokedClient = await connectMcp(server.url, keyHeaders(key, 'revoked-agent'));
      const watcher = await connectMcp(server.url, writer);
      clients.push(revokedClient, watcher);
      const updates = { revoked: [] as string[], watcher: [] as string[] };
      revokedClient.setNotificationHandler('notifications/resources/updated', (n) => {
        updates.revoked.push(n.params.uri);
      });
      watcher.setNotificationHandler('notifications/resources/updated', (n) => {
        updates.watcher.push(n.params.uri);
      });
      await revokedClient.subscribeResource({ uri });
      await watcher.subscribeResource({ uri });
      await post('before the revocation');
      await until(() => updates.revoked.length >= 1 && updates.watcher.length >= 1);
      expect(updates.revoked).toEqual([uri]);

      const admin = bearer(await adminToken(server));
      const revoked = await callHttpTool(
        server.url,
        'revoke_agent_key',
        { agent_id: 'revoked-agent' },
        admin,
      );
      expect(revoked.status).toBe(200);
      expect(revoked.body).toMatchObject({ revoked: { agent_id: 'revoked-agent', status: 'revoked' } });

      await until(() => socket.closeCode !== undefined);
      expect(socket.closeCode).toBe(4001);

      const withToken = await whoAmI(server, bearer(token));
      expect(withToken.status).toBe(401);
      expect(withToken.body.code).toBe('TOKEN_REVOKED');
      const withKey = await whoAmI(server, keyHeaders(key, 'revoked-agent'));
      expect(withKey.status).toBe(401);
      expect(withKey.body.code).toBe('UNAUTHORIZED');
      const overMcp = await callTool(revokedClient, 'get_usage_guidance', {});
      expect(overMcp.isError).toBe(true);
      expect(overMcp.json.code).toBe('UNAUTHORIZED');

      // The watcher hears of the next message; the revoked agent's subscription is gone.
      await post('after the revocation');
      await until(() => updates.watcher.length >= 2);
      expect(updates.watcher).toEqual([uri, uri]);
      await new Promise((r) => setTimeout(r, 100));
      expect(updates.revoked).toEqual([uri]);
      const reopened = await TestSocket.open(server.url, 'revoked-agent', { query: { token } }).then(
        () => undefined,
        (refusal: RefusedUpgrade) => refusal,
      );
      expect(reopened?.status).toBe(401);
    } finally {
      await socket.close();
      await Promise.allSettled(clients.map((c) => c.close()));
    }
  });

  it('issuing a new key for an agent replaces its old key and ends the tokens of the old one', async () => {
    const first = await issueKey(server, 'rotated', 'claude');
    const oldToken = (await callHttpTool(server.url, 'authenticate_agent', { api_key: first })).body
      .token as string;
    const second = await issueKey(server, 'rotated', 'claude');
    expect((await whoAmI(server, bearer(oldToken))).body.code).toBe('TOKEN_REVOKED');
    expect((await whoAmI(server, keyHeaders(first))).status).toBe(401);
    expect((await whoAmI(server, keyHeaders(second))).status).toBe(200);
  });
});

describe('agent keys from the command line, on a running server', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ REQUIRE_AGENT_KEYS: 'true' });
  });
  afterAll(async () => server.cleanup());

  it('a key issued by the CLI works at once; revoked by the CLI, it stops working and its socket closes', async () => {
    const issued = await cli(server, ['keys', 'issue', '--agent', 'cli-agent', '--type', 'claude']);
    const body = JSON.parse(issued.stdout) as Record<string, unknown>;
    expect(body).toMatchObject({ agent_id: 'cli-agent', agent_type: 'claude', created_by: 'cli' });
    const key = body.api_key as string;
    expect(issued.stderr).not.toContain(key);

    const own = await whoAmI(server, keyHeaders(key, 'cli-agent'));
    expect(own.body).toMatchObject({ success: true, your_agent_id: 'cli-agent' });
    // The running server learns of the key within a second, and then refuses the shared key for it.
    await until(async () => (await whoAmI(server, keyHeaders(server.apiKey, 'cli-agent'))).status === 403);
    expect((await whoAmI(server, keyHeaders(server.apiKey, 'cli-agent'))).status).toBe(403);

    const socket = await TestSocket.open(server.url, 'cli-agent', { headers: keyHeaders(key) });
    try {
      await socket.waitFor((f) => f.type === 'welcome');
      const listed = await cli(server, ['keys', 'list']);
      expect(listed.stdout).toContain('cli-agent');
      expect(listed.stdout).not.toContain(key);
      await cli(server, ['keys', 'revoke', '--agent', 'cli-agent']);
      await until(() => socket.closeCode !== undefined, 10_000);
      expect(socket.closeCode).toBe(4001);
      const after = await whoAmI(server, keyHeaders(key, 'cli-agent'));
      expect(after.status).toBe(401);
    } finally {
      await socket.close();
    }
  }, 120_000);

  it('keys are stored only as a sha256 hash, and a revocation survives a restart', async () => {
    const key = await issueKey(server, 'hashed', 'claude');
    const token = (await callHttpTool(server.url, 'authenticate_agent', { api_key: key })).body
      .token as string;
    const admin = bearer(await adminToken(server));
    await callHttpTool(server.url, 'revoke_agent_key', { agent_id: 'hashed' }, admin);

    const db = await openRawDatabase(server.dataDir);
    try {
      const rows = await db.query("SELECT * FROM agent_keys WHERE agent_id = 'hashed'");
      expect(rows).toHaveLength(1);
      expect(rows[0]?.key_hash).toBe(createHash('sha256').update(key).digest('hex'));
      const everything = JSON.stringify(
        await Promise.all(['agent_keys', 'audit_log'].map((table) => db.query(`SELECT * FROM ${table}`))),
      );
      expect(everything).not.toContain(key);
      const audit = await db.query<{ action: string }>(
        "SELECT action FROM audit_log WHERE agent_id = 'hashed' ORDER BY id",
      );
      expect(audit.map((a) => a.action)).toEqual(
        expect.arrayContaining(['issue_agent_key', 'revoke_agent_key']),
      );
    } finally {
      await db.close();
    }

    await server.stop();
    const again = await startTestServer({ REQUIRE_AGENT_KEYS: 'true' }, server.dataDir);
    try {
      expect((await whoAmI(again, bearer(token))).body.code).toBe('TOKEN_REVOKED');
      expect((await whoAmI(again, keyHeaders(key))).status).toBe(401);
    } finally {
      await again.stop();
    }
  });
});
