import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, testDeployment } from './helpers/database.js';
import { callTool, connectMcp, openRawSession, postMcp } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { TestSocket, type WsFrame, until } from './helpers/ws-client.js';

/**
 * Two real server processes' worth of nodes (two apps, each with its own pool, feed reader and
 * LISTEN connection) on one PostgreSQL schema, sharing keys as a deployment does: they must behave
 * as one server. Runs in the `postgres` project only (vitest.config.ts).
 */
describe('two nodes on one PostgreSQL', () => {
  const deployment = testDeployment();
  const { schema } = deployment;
  let node1: TestServer;
  let node2: TestServer;

  beforeAll(async () => {
    await deployment.create();
    node1 = await startTestServer(deployment.keys, deployment.nodeDir());
    node2 = await startTestServer(deployment.keys, deployment.nodeDir());
  });
  afterAll(async () => {
    await node1?.stop();
    await node2?.stop();
    await deployment.drop();
  });

  const bearer = async (node: TestServer, agent: string) => ({
    authorization: `Bearer ${await tokenFor(node, agent)}`,
  });
  const call = async (node: TestServer, auth: Record<string, string>, tool: string, args: object) =>
    (await callHttpTool(node.url, tool, args, auth)).body;

  it("B on node 2 sees A's writes on node 1 on every surface, each exactly once and in order", async () => {
    const alice = await bearer(node1, 'mn-alice');
    const bob = await bearer(node2, 'mn-bob');
    const sessionId = (await call(node1, alice, 'create_session', { purpose: 'two nodes' }))
      .session_id as string;

    // Bob, on node 2: a WebSocket following the session, an MCP resource subscription, a long-poll.
    const socket = await TestSocket.open(node2.url, 'mn-bob', { headers: bob });
    socket.send({ type: 'subscribe', session_id: sessionId, after_id: 0 });
    await socket.waitFor((f) => f.type === 'subscribed');
    const client: Client = await connectMcp(node2.url, bob);
    const updates: string[] = [];
    client.setNotificationHandler('notifications/resources/updated', (n) => void updates.push(n.params.uri));
    await client.subscribeResource({ uri: `session://${sessionId}` });
    const waited = callTool(client, 'wait_for_messages', {
      session_id: sessionId,
      after_id: 0,
      timeout_s: 20,
    });

    const ids: number[] = [];
    for (let i = 0; i < 20; i++) {
      ids.push(
        (await call(node1, alice, 'add_message', { session_id: sessionId, content: `m${i}` }))
          .message_id as number,
      );
    }
    const woken = await waited;
    expect(woken.json.timed_out).toBe(false);
    expect((woken.json.messages as Array<{ id: number }>)[0]?.id).toBe(ids[0]);

    const pushed = () =>
      socket.ofType('session_message').map((f: WsFrame) => (f.message as { id: number }).id);
    await until(() => pushed().length >= 20, 10_000);
    expect(pushed()).toEqual(ids);
    await until(() => updates.length >= 1, 10_000);
    expect(updates.every((uri) => uri === `session://${sessionId}`)).toBe(true);
    expect(updates.length).toBeLessThanOrEqual(20);
    await client.close();
    await socket.close();
  });

  it('concurrent writers on both nodes: a follower on each node gets every message once, in id order, no gap', async () => {
    const writers = [await bearer(node1, 'mn-w1'), await bearer(node2, 'mn-w2')];
    const sessionId = (await call(node1, writers[0]!, 'create_session', { purpose: 'race' }))
      .session_id as string;
    const followers = await Promise.all(
      [node1, node2].map(async (node, i) => {
        const s = await TestSocket.open(node.url, `mn-follower${i}`, {
          headers: await bearer(node, `mn-follower${i}`),
        });
        s.send({ type: 'subscribe', session_id: sessionId, after_id: 0 });
        await s.waitFor((f) => f.type === 'subscribed');
        return s;
      }),
    );
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        call(i % 2 === 0 ? node1 : node2, writers[i % 2]!, 'add_message', {
          session_id: sessionId,
          content: `w${i}`,
        }),
      ),
    );
    const confirmed = results.map((r) => r.message_id as number).sort((a, b) => a - b);
    expect(new Set(confirmed).size).toBe(50);
    for (const follower of followers) {
      const seen = () => follower.ofType('session_message').map((f) => (f.message as { id: number }).id);
      await until(() => seen().length >= 50, 15_000);
      expect(seen()).toEqual(confirmed);
      await follower.close();
    }
    const stored = await call(node2, writers[1]!, 'get_messages', { session_id: sessionId, limit: 100 });
    expect((stored.messages as Array<{ id: number }>).map((m) => m.id)).toEqual(confirmed);
  });

  it('compare-and-set from both nodes at once has exactly one winner', async () => {
    const auth1 = await bearer(node1, 'mn-cas');
    const auth2 = await bearer(node2, 'mn-cas');
    for (let round = 0; round < 10; round++) {
      const key = `cas-${round}`;
      // Absent → both try to create it with if_version 0; then both try to move version 1 → 2.
      const created = await Promise.all([
        call(node1, auth1, 'set_memory', { key, value: 'one', if_version: 0 }),
        call(node2, auth2, 'set_memory', { key, value: 'two', if_version: 0 }),
      ]);
      expect(created.filter((r) => r.success === true)).toHaveLength(1);
      expect(created.filter((r) => r.success !== true).every((r) => r.code === 'CONFLICT')).toBe(true);
      const moved = await Promise.all([
        call(node1, auth1, 'set_memory', { key, value: 'a', if_version: 1 }),
        call(node2, auth2, 'set_memory', { key, value: 'b', if_version: 1 }),
      ]);
      expect(moved.filter((r) => r.success === true)).toHaveLength(1);
      const stored = await call(node1, auth1, 'get_memory', { key });
      expect(stored.version).toBe(2);
    }
  });

  it('a token revoked on node 1 is refused by node 2 at once', async () => {
    const token = await tokenFor(node1, 'mn-leaver');
    const auth = { authorization: `Bearer ${token}` };
    expect((await callHttpTool(node2.url, 'list_sessions', {}, auth)).status).toBe(200);
    expect((await callHttpTool(node1.url, 'revoke_token', {}, auth)).body.success).toBe(true);
    await until(
      async () => (await callHttpTool(node2.url, 'list_sessions', {}, auth)).body.code === 'TOKEN_REVOKED',
      5_000,
    );
    expect((await callHttpTool(node2.url, 'list_sessions', {}, auth)).body.code).toBe('TOKEN_REVOKED');

    // Revoking the whole agent on node 1 (the dashboard's revoke) ends its tokens on node 2 too.
    const other = { authorization: `Bearer ${await tokenFor(node2, 'mn-leaver2')}` };
    expect((await callHttpTool(node2.url, 'list_sessions', {}, other)).status).toBe(200);
    await node1.app.services.auth.revokeAgent('mn-leaver2', 'root');
    await until(
      async () => (await callHttpTool(node2.url, 'list_sessions', {}, other)).body.code === 'TOKEN_REVOKED',
      5_000,
    );
    expect((await callHttpTool(node2.url, 'list_sessions', {}, other)).body.code).toBe('TOKEN_REVOKED');
  });

  it('presence comes from the database: a WebSocket open on node 1 shows the agent connected on node 2', async () => {
    const auth = await bearer(node1, 'mn-present');
    const viewer = await bearer(node2, 'mn-viewer');
    const connectedOn = async (node: TestServer) => {
      const body = await call(node, viewer, 'list_agents', {});
      return (body.agents as Array<{ agent_id: string; connected: boolean }>).find(
        (a) => a.agent_id === 'mn-present',
      )?.connected;
    };
    await call(node1, auth, 'register_agent', { name: 'present' });
    expect(await connectedOn(node2)).toBe(false);
    const socket = await TestSocket.open(node1.url, 'mn-present', { headers: auth });
    await socket.waitFor((f) => f.type === 'welcome');
    await until(async () => (await connectedOn(node2)) === true, 5_000);
    expect(await connectedOn(node2)).toBe(true);
    await socket.close();
    await until(async () => (await connectedOn(node2)) === false, 5_000);
    expect(await connectedOn(node2)).toBe(false);
  });

  it('a periodic job runs on one node at a time', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = node1.app.services.store.exclusive('retention', async () => {
      await held;
      return 'node 1';
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(await node2.app.services.store.exclusive('retention', async () => 'node 2')).toBeUndefined();
    release();
    expect(await first).toBe('node 1');
    expect(await node2.app.services.store.exclusive('retention', async () => 'node 2')).toBe('node 2');
  });

  it("when node 2's LISTEN connection drops, it reconnects and catches up: nothing lost, nothing twice", async () => {
    const alice = await bearer(node1, 'mn-l-alice');
    const bob = await bearer(node2, 'mn-l-bob');
    const sessionId = (await call(node1, alice, 'create_session', { purpose: 'listener' }))
      .session_id as string;
    const socket = await TestSocket.open(node2.url, 'mn-l-bob', { headers: bob });
    socket.send({ type: 'subscribe', session_id: sessionId, after_id: 0 });
    await socket.waitFor((f) => f.type === 'subscribed');
    const listeners = async () =>
      (
        await adminQuery(`SELECT pid FROM pg_stat_activity WHERE application_name = left($1, 63)`, [
          `scs listener scs_changes:${schema}`,
        ])
      ).rows as Array<{ pid: number }>;
    // Both nodes listen on the schema's channel; drop every such connection, then write at once.
    await until(async () => (await listeners()).length === 2, 5_000);
    const before = await listeners();
    await adminQuery(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = left($1, 63)`,
      [`scs listener scs_changes:${schema}`],
    );
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push(
        (await call(node1, alice, 'add_message', { session_id: sessionId, content: `l${i}` }))
          .message_id as number,
      );
    }
    const pushed = () =>
      socket.ofType('session_message').map((f: WsFrame) => (f.message as { id: number }).id);
    await until(() => pushed().length >= 10, 10_000);
    expect(pushed()).toEqual(ids);
    // The listeners came back (new connections), and later writes arrive as before.
    await until(async () => (await listeners()).length === 2, 10_000);
    expect((await listeners()).map((l) => l.pid)).not.toEqual(before.map((l) => l.pid));
    const last = (await call(node1, alice, 'add_message', { session_id: sessionId, content: 'after' }))
      .message_id as number;
    await until(() => pushed().length >= 11, 5_000);
    expect(pushed()).toEqual([...ids, last]);
    await socket.close();
  });

  it('an MCP session opened on node 1 is served by node 2 for its own agent only, and ends everywhere with DELETE', async () => {
    const owner = await bearer(node1, 'mn-owner');
    const other = await bearer(node2, 'mn-other');
    const session = await openRawSession(node1.url, owner);
    const id = session['mcp-session-id']!;
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    // Another agent's credentials on node 2: the session is not theirs to take.
    expect((await postMcp(node2.url, { ...session, ...other }, list)).status).toBe(404);
    // Its own agent's: node 2 takes it over and answers within the same session.
    const served = await postMcp(node2.url, session, list);
    expect(served.status).toBe(200);
    expect((served.body.result?.tools as unknown[]).length).toBeGreaterThan(10);
    // Ended by its client: no node serves it any more.
    const ended = await fetch(`${node2.url}/mcp`, { method: 'DELETE', headers: session });
    expect(ended.status).toBe(200);
    await ended.text();
    const stored = async () =>
      (await adminQuery(`SELECT count(*)::int AS n FROM ${schema}.mcp_sessions WHERE session_id = $1`, [id]))
        .rows[0] as { n: number };
    await until(async () => (await stored()).n === 0, 5_000);
    expect(await stored()).toEqual({ n: 0 });
    expect((await postMcp(node2.url, session, list)).status).toBe(404);
  });
});
