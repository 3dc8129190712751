import type { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectMcp } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { TestSocket, until } from './helpers/ws-client.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k as string] = v as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

type ToolFigures = { calls: number; errors: number; p50_ms?: number; p90_ms?: number; p99_ms?: number };
type Snapshot = {
  tools: Record<string, ToolFigures>;
  connections: { mcp_sessions: number; websockets: number; long_polls: number };
  database: { queries: number; mean_ms: number };
};

describe('metrics', () => {
  let server: TestServer;
  let alice: Record<string, string>;
  let admin: Record<string, string>;
  let session: string;

  async function scrape(): Promise<{ contentType: string | null; samples: Sample[] }> {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    return { contentType: res.headers.get('content-type'), samples: parsePrometheus(await res.text()) };
  }

  /** The value of the one sample with this name whose labels include `labels` (undefined if none). */
  function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
    const found = samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    if (found.length > 1)
      throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
    return found[0]?.value;
  }

  async function snapshot(): Promise<Snapshot> {
    const { status, body } = await callHttpTool(server.url, 'get_performance_metrics', {}, admin);
    expect(status).toBe(200);
    return body.metrics as Snapshot;
  }

  beforeAll(async () => {
    // A server of its own: the counts below are exact.
    server = await startTestServer();
    alice = { authorization: `Bearer ${await tokenFor(server, 'alice')}` };
    admin = { authorization: `Bearer ${await tokenFor(server, 'ops', { admin: true })}` };
    session = (await callHttpTool(server.url, 'create_session', { purpose: 'metrics' }, alice)).body
      .session_id as string;
    for (let i = 0; i < 3; i++) await callHttpTool(server.url, 'list_sessions', {}, alice);
    for (let i = 0; i < 2; i++) {
      await callHttpTool(server.url, 'add_message', { session_id: session, content: `m${i}` }, alice);
    }
    const missing = await callHttpTool(
      server.url,
      'get_session',
      { session_id: 'session_0000000000000000' },
      alice,
    );
    expect(missing.status).toBe(404);
  });
  afterAll(async () => server.cleanup());

  describe('GET /metrics', () => {
    it('is Prometheus text with scs_tool_calls_total per tool and result code', async () => {
      const { contentType, samples } = await scrape();
      expect(contentType).toMatch(/^text\/plain/);
      expect(value(samples, 'scs_tool_calls_total', { tool: 'list_sessions', code: 'OK' })).toBe(3);
      expect(value(samples, 'scs_tool_calls_total', { tool: 'add_message', code: 'OK' })).toBe(2);
      expect(value(samples, 'scs_tool_calls_total', { tool: 'create_session', code: 'OK' })).toBe(1);
      expect(value(samples, 'scs_tool_calls_total', { tool: 'get_session', code: 'SESSION_NOT_FOUND' })).toBe(
        1,
      );
    });

    it('has a scs_tool_duration_seconds histogram whose count matches the calls', async () => {
      const { samples } = await scrape();
      const buckets = samples.filter(
        (s) => s.name === 'scs_tool_duration_seconds_bucket' && s.labels.tool === 'list_sessions',
      );
      expect(buckets.length).toBeGreaterThan(5);
      const values = buckets.map((b) => b.value);
      expect([...values].sort((a, b) => a - b)).toEqual(values);
      expect(buckets.find((b) => b.labels.le === '+Inf')?.value).toBe(3);
      expect(value(samples, 'scs_tool_duration_seconds_count', { tool: 'list_sessions' })).toBe(3);
      expect(value(samples, 'scs_tool_duration_seconds_sum', { tool: 'list_sessions' })).toBeGreaterThan(0);
    });

    it('counts failures in scs_errors_total by code', async () => {
      const before = value((await scrape()).samples, 'scs_errors_total', { code: 'PERMISSION_DENIED' }) ?? 0;
      const denied = await callHttpTool(server.url, 'get_audit_log', {}, alice);
      expect(denied.status).toBe(403);
      const { samples } = await scrape();
      expect(value(samples, 'scs_errors_total', { code: 'SESSION_NOT_FOUND' })).toBe(1);
      expect(value(samples, 'scs_errors_total', { code: 'PERMISSION_DENIED' })).toBe(before + 1);
    });

    it('counts failures outside tool calls too (a REST identity check, a refused WebSocket upgrade)', async () => {
      const errors = async (code: string) =>
        value((await scrape()).samples, 'scs_errors_total', { code }) ?? 0;
      const denied = await errors('PERMISSION_DENIED');
      const unauthorized = await errors('UNAUTHORIZED');
      const forged = await fetch(`${server.url}/api/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...alice },
        body: JSON.stringify({ from: 'bob', to: 'carol', message: 'forged' }),
      });
      expect(forged.status).toBe(403);
      await expect(TestSocket.open(server.url, 'alice')).rejects.toMatchObject({ status: 401 });
      expect(await errors('PERMISSION_DENIED')).toBe(denied + 1);
      expect(await errors('UNAUTHORIZED')).toBe(unauthorized + 1);
    });

    it('counts the changes read from the change feed in scs_feed_changes_total by kind', async () => {
      const { samples } = await scrape();
      expect(value(samples, 'scs_feed_changes_total', { kind: 'message' })).toBe(2);
    });

    it('tracks open WebSockets in scs_websockets_open', async () => {
      const gauge = async () => value((await scrape()).samples, 'scs_websockets_open');
      expect(await gauge()).toBe(0);
      const socket = await TestSocket.open(server.url, 'alice', { headers: alice });
      try {
        await socket.waitFor((f) => f.type === 'welcome');
        expect(await gauge()).toBe(1);
      } finally {
        await socket.close();
      }
      let after: number | undefined;
      await until(async () => (after = await gauge()) === 0);
      expect(after).toBe(0);
    });

    it('tracks open MCP sessions in scs_mcp_sessions_open', async () => {
      const gauge = async () => value((await scrape()).samples, 'scs_mcp_sessions_open');
      const before = (await gauge()) ?? 0;
      const client: Client = await connectMcp(server.url, alice);
      try {
        expect(await gauge()).toBe(before + 1);
        // Ending a session is a DELETE /mcp (closing the client alone leaves it to the idle sweep).
        await (client.transport as StreamableHTTPClientTransport).terminateSession();
      } finally {
        await client.close();
      }
      let after: number | undefined;
      await until(async () => (after = await gauge()) === before);
      expect(after).toBe(before);
    });
  });

  describe('get_performance_metrics', () => {
    it('requires admin: a read/write agent gets PERMISSION_DENIED (403, and isError over MCP)', async () => {
      const { status, body } = await callHttpTool(server.url, 'get_performance_metrics', {}, alice);
      expect(status).toBe(403);
      expect(body).toMatchObject({ success: false, code: 'PERMISSION_DENIED' });
      const client = await connectMcp(server.url, alice);
      try {
        const overMcp = await callTool(client, 'get_performance_metrics', {});
        expect(overMcp.isError).toBe(true);
        expect(overMcp.json.code).toBe('PERMISSION_DENIED');
      } finally {
        await client.close();
      }
    });

    it('returns per-tool counts, errors and latency percentiles that match the calls made', async () => {
      const metrics = await snapshot();
      expect(metrics.tools.list_sessions).toMatchObject({ calls: 3, errors: 0 });
      expect(metrics.tools.add_message).toMatchObject({ calls: 2, errors: 0 });
      expect(metrics.tools.get_session).toMatchObject({ calls: 1, errors: 1 });
      for (const name of ['list_sessions', 'add_message', 'get_session']) {
        const figures = metrics.tools[name] as ToolFigures;
        expect(figures.p50_ms, name).toBeGreaterThan(0);
        expect(figures.p50_ms as number).toBeLessThanOrEqual(figures.p90_ms as number);
        expect(figures.p90_ms as number).toBeLessThanOrEqual(figures.p99_ms as number);
      }
      // The percentiles agree with the histogram of the same calls: p99 lies below the upper bound
      // of the first bucket that holds every call.
      const { samples } = await scrape();
      const holdsAll = samples
        .filter(
          (s) =>
            s.name === 'scs_tool_duration_seconds_bucket' &&
            s.labels.tool === 'list_sessions' &&
            s.value === 3,
        )
        .map((s) => Number(s.labels.le))
        .filter(Number.isFinite)
        .sort((a, b) => a - b)[0] as number;
      expect(metrics.tools.list_sessions?.p99_ms as number).toBeLessThanOrEqual(holdsAll * 1000);
      expect(metrics.database.queries).toBeGreaterThan(0);
    });

    it('reports open connections', async () => {
      const client = await connectMcp(server.url, admin);
      const socket = await TestSocket.open(server.url, 'ops', { headers: admin });
      try {
        await socket.waitFor((f) => f.type === 'welcome');
        const { json } = await callTool(client, 'get_performance_metrics', {});
        const metrics = json.metrics as Snapshot;
        expect(metrics.connections.websockets).toBe(1);
        expect(metrics.connections.mcp_sessions).toBeGreaterThanOrEqual(1);
      } finally {
        await socket.close();
        await client.close();
      }
    });

    it('reports a pending wait_for_messages as a long poll (connections.long_polls, scs_long_polls_waiting)', async () => {
      const last = (
        await callHttpTool(server.url, 'add_message', { session_id: session, content: 'cursor' }, alice)
      ).body.message_id as number;
      const waited = callHttpTool(
        server.url,
        'wait_for_messages',
        { session_id: session, after_id: last, timeout_s: 10 },
        alice,
      );
      try {
        await until(() => server.app.services.waiter.waiting >= 1);
        expect((await snapshot()).connections.long_polls).toBe(1);
        expect(value((await scrape()).samples, 'scs_long_polls_waiting')).toBe(1);
      } finally {
        await callHttpTool(server.url, 'add_message', { session_id: session, content: 'release' }, alice);
        await waited;
      }
    });
  });
});
