import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnFirstUse } from '../src/transports/on-first-use.js';
import { callTool, connectMcp, openRawSession } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { TestSocket, until } from './helpers/ws-client.js';

/**
 * The parts a start does not need (the MCP SDK behind /mcp, ws behind /ws and /ui/live, esbuild
 * behind the dashboard's script, prom-client behind the process figures of /metrics) are loaded on
 * first use (docs/memory.md). Correctness only: each answers its very first request as before.
 */
describe('parts loaded on first use', () => {
  describe('OnFirstUse', () => {
    it('loads once for concurrent first uses, and not at all before', async () => {
      let loads = 0;
      const part = new OnFirstUse(async () => ({ n: ++loads }));
      expect(part.loaded).toBeUndefined();
      expect(await part.settled()).toBeUndefined();
      const [a, b] = await Promise.all([part.get(), part.get()]);
      expect(a).toBe(b);
      expect(loads).toBe(1);
      expect(part.loaded).toBe(a);
    });

    it('retries a load that failed, and reports the failure to its caller', async () => {
      let attempts = 0;
      const part = new OnFirstUse(async () => {
        if (++attempts === 1) throw new Error('first load fails');
        return 'ok';
      });
      await expect(part.get()).rejects.toThrow('first load fails');
      expect(await part.settled()).toBeUndefined();
      expect(await part.get()).toBe('ok');
      expect(attempts).toBe(2);
    });
  });

  describe('a fresh server', () => {
    let server: TestServer;
    let token: string;
    let session: string;

    beforeAll(async () => {
      server = await startTestServer();
      // The HTTP tool route is loaded at start: it creates what the first uses below read.
      token = await tokenFor(server, 'lazy-alice');
      const created = await callHttpTool(
        server.url,
        'create_session',
        { purpose: 'first use' },
        { authorization: `Bearer ${token}` },
      );
      session = created.body.session_id as string;
      await callHttpTool(
        server.url,
        'add_message',
        { session_id: session, content: 'the quick brown fox jumps over the lazy dog' },
        { authorization: `Bearer ${token}` },
      );
    });
    afterAll(() => server.cleanup());

    it('answers concurrent first initialize requests on /mcp, one session each', async () => {
      const sessions = await Promise.all(
        Array.from({ length: 5 }, () => openRawSession(server.url, { authorization: `Bearer ${token}` })),
      );
      const ids = new Set(sessions.map((s) => s['mcp-session-id']));
      expect(ids.size).toBe(5);
      expect(server.app.http.mcp.sessionCount).toBeGreaterThanOrEqual(5);
    });

    it('serves tools over /mcp with the official client, search included', async () => {
      const client = await connectMcp(server.url, { authorization: `Bearer ${token}` });
      try {
        const { json } = await callTool(client, 'search_context', {
          session_id: session,
          query: 'quick brwn',
        });
        expect(json.success).toBe(true);
        expect((json.results as unknown[]).length).toBeGreaterThan(0);
      } finally {
        await client.close();
      }
    });

    it('accepts the first agent socket on /ws', async () => {
      const socket = await TestSocket.open(server.url, 'lazy-alice', {
        headers: { authorization: `Bearer ${token}` },
      });
      try {
        expect(server.app.http.websockets).toBeDefined();
      } finally {
        socket.ws.close();
        await until(() => socket.closeCode !== undefined);
      }
    });

    it('serves the dashboard page and its script on the first request', async () => {
      const page = await fetch(`${server.url}/ui/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('app.js');
      const script = await fetch(`${server.url}/ui/app.js`);
      expect(script.status).toBe(200);
      expect(script.headers.get('content-type')).toMatch(/javascript/);
      expect((await script.text()).length).toBeGreaterThan(1000);
    });

    it('serves its own metrics and the process figures on the first scrape of /metrics', async () => {
      const res = await fetch(`${server.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await res.text();
      expect(text).toMatch(/^scs_tool_calls_total\{tool="add_message",code="OK"\} 1$/m);
      expect(text).toMatch(/^scs_process_resident_memory_bytes \d+/m);
    });
  });

  it('a server whose transports were never used stops cleanly', async () => {
    const server = await startTestServer();
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    await server.cleanup();
  });
});
