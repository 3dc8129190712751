import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMcp, callTool } from './helpers/mcp-client.js';
import { startTestServer, tokenFor, type TestServer } from './helpers/server.js';

describe('smoke', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server.cleanup());

  it('an agent creates a session and writes a message over MCP (legacy and modern eras)', async () => {
    const token = await tokenFor(server, 'alice');
    for (const mode of ['legacy', 'auto'] as const) {
      const client = await connectMcp(server.url, { authorization: `Bearer ${token}` }, mode);
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name)).toContain('add_message');
      const created = await callTool(client, 'create_session', { purpose: `smoke ${mode}` });
      expect(created.json.success).toBe(true);
      const added = await callTool(client, 'add_message', {
        session_id: created.json.session_id,
        content: 'hello',
      });
      expect(added.json).toMatchObject({ success: true, message_id: expect.any(Number) });
      const bad = await callTool(client, 'get_session', { session_id: 'session_0000000000000000' });
      expect(bad.isError).toBe(true);
      expect(bad.json.code).toBe('SESSION_NOT_FOUND');
      expect(client.getProtocolEra()).toBe(mode === 'auto' ? 'modern' : 'legacy');
      await client.close();
    }
  });
});
