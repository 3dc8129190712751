import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliServer, type CliServer } from './helpers/cli.js';
import { schemaUrl, testDeployment } from './helpers/database.js';
import { callTool } from './helpers/mcp-client.js';
import { callHttpTool } from './helpers/server.js';
import { until } from './helpers/ws-client.js';

/**
 * Real server processes on one PostgreSQL schema, one of them killed with SIGKILL: what its clients
 * were promised survives on the other node. PostgreSQL only (vitest.config.ts).
 */
describe('a node killed with SIGKILL', () => {
  const deployment = testDeployment();
  const nodes: CliServer[] = [];
  const keys = deployment.keys;

  async function startNode(): Promise<CliServer> {
    const node = await startCliServer({
      ...keys,
      DATA_DIR: deployment.nodeDir(),
      DATABASE_URL: schemaUrl(deployment.schema),
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '100000',
      RETENTION_INTERVAL_SECONDS: '0',
    });
    nodes.push(node);
    return node;
  }

  const kill = async (node: CliServer) => {
    const exited = new Promise((resolve) => node.child.once('exit', resolve));
    node.child.kill('SIGKILL');
    await exited;
  };

  const bearerOn = async (node: CliServer, agent: string) => {
    const { body } = await callHttpTool(node.url, 'authenticate_agent', {
      agent_id: agent,
      api_key: keys.API_KEY,
    });
    return { authorization: `Bearer ${body.token as string}` };
  };

  beforeAll(() => deployment.create());
  afterAll(async () => {
    for (const node of nodes) if (node.child.exitCode === null) node.child.kill('SIGKILL');
    await deployment.drop();
  });

  it('loses no acknowledged write: writes confirmed by the killed node are all stored', async () => {
    const [a, b] = [await startNode(), await startNode()];
    const auth = await bearerOn(a, 'fo-writer');
    const sessionId = (await callHttpTool(a.url, 'create_session', { purpose: 'kill me' }, auth)).body
      .session_id as string;
    const confirmed: number[] = [];
    let stop = false;
    const writer = async (node: CliServer, n: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const { status, body } = await callHttpTool(
            node.url,
            'add_message',
            { session_id: sessionId, content: `w${n}-${i}` },
            auth,
          );
          if (status === 200) confirmed.push(body.message_id as number);
        } catch {
          return; // the node is gone: an unanswered write promised nothing
        }
      }
    };
    const writers = [
      ...Array.from({ length: 8 }, (_, n) => writer(a, n)),
      ...Array.from({ length: 4 }, (_, n) => writer(b, 100 + n)),
    ];
    await until(() => confirmed.length >= 200, 20_000);
    await kill(a);
    stop = true;
    await Promise.all(writers);
    const stored = new Set<number>();
    let after = 0;
    for (;;) {
      const { body } = await callHttpTool(
        b.url,
        'get_messages',
        { session_id: sessionId, after_id: after, limit: 1000 },
        auth,
      );
      const page = body.messages as Array<{ id: number }>;
      for (const m of page) stored.add(m.id);
      if (page.length === 0) break;
      after = page[page.length - 1]!.id;
    }
    expect(confirmed.length).toBeGreaterThanOrEqual(200);
    expect(confirmed.filter((id) => !stored.has(id))).toEqual([]);
    await b.stop();
  }, 90_000);

  it('moves an MCP client from the killed node to a live one: same session, its subscription kept, nothing missed', async () => {
    const [a, b] = [await startNode(), await startNode()];
    const watcher = await bearerOn(a, 'fo-watcher');
    const writer = await bearerOn(b, 'fo-writer2');
    const sessionId = (await callHttpTool(b.url, 'create_session', { purpose: 'follow me' }, writer)).body
      .session_id as string;

    // A load balancer in miniature: every request of the client goes to `target`.
    let target = a.url;
    const routed = (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      const to = new URL(target);
      url.host = to.host;
      return fetch(url, init);
    };
    const client = new Client({ name: 'scs-failover', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${a.url}/mcp`), {
      requestInit: { headers: watcher },
      fetch: routed,
      reconnectionOptions: {
        initialReconnectionDelay: 200,
        maxReconnectionDelay: 1000,
        reconnectionDelayGrowFactor: 1.5,
        maxRetries: 20,
      },
    });
    await client.connect(transport);
    const updates: string[] = [];
    client.setNotificationHandler('notifications/resources/updated', (n) => void updates.push(n.params.uri));
    await client.subscribeResource({ uri: `session://${sessionId}` });
    const sessionBefore = transport.sessionId;

    await callHttpTool(b.url, 'add_message', { session_id: sessionId, content: 'before the crash' }, writer);
    await until(() => updates.length >= 1, 10_000);
    expect(updates).toEqual([`session://${sessionId}`]);

    await kill(a);
    target = b.url;
    // Written while the client has no stream: it learns of it when its stream resumes on node b.
    await callHttpTool(b.url, 'add_message', { session_id: sessionId, content: 'after the crash' }, writer);
    await until(() => updates.length >= 2, 20_000);
    expect(updates).toEqual([`session://${sessionId}`, `session://${sessionId}`]);

    // The same session goes on: a tool call answers on node b without a new initialize.
    const { json } = await callTool(client, 'get_messages', { session_id: sessionId });
    expect(json.success).toBe(true);
    expect((json.messages as Array<{ content: string }>).map((m) => m.content)).toEqual([
      'before the crash',
      'after the crash',
    ]);
    expect(transport.sessionId).toBe(sessionBefore);
    // And its subscription lives on node b: a later write notifies it live.
    await callHttpTool(b.url, 'add_message', { session_id: sessionId, content: 'later' }, writer);
    await until(() => updates.length >= 3, 10_000);
    expect(updates).toHaveLength(3);
    await client.close();
    await b.stop();
  }, 90_000);
});
