import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectStdio } from './helpers/cli.js';
import { callTool, connectMcp } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

interface Message {
  id: number;
  sender: string;
  sender_type: string;
  content: string;
  visibility: string;
}

describe('MCP over stdio (the real CLI in a child process)', () => {
  let http: TestServer;
  let stdio: Client;
  let stderr: () => string = () => '';
  let sessionId: string;

  beforeAll(async () => {
    // The HTTP server first: it generates the data directory's keys, which the stdio process reuses.
    http = await startTestServer();
    const child = await connectStdio(http.dataDir, 'stdio-agent');
    stdio = child.client;
    stderr = child.stderr;
  });

  afterAll(async () => {
    await stdio?.close();
    await http?.cleanup();
    if (stderr().trim().length > 0) console.log(`stdio server stderr:\n${stderr()}`);
  });

  it('lists the same tools as the HTTP MCP endpoint', async () => {
    const { tools } = await stdio.listTools();
    const names = tools.map((t) => t.name).sort();
    expect(names).toEqual(
      expect.arrayContaining([
        'create_session',
        'add_message',
        'get_messages',
        'set_memory',
        'search_context',
      ]),
    );
    const overHttp = await connectMcp(http.url);
    try {
      const httpNames = (await overHttp.listTools()).tools.map((t) => t.name).sort();
      expect(names).toEqual(httpNames);
    } finally {
      await overHttp.close();
    }
  });

  it('creates a session, writes a message and reads it back as the agent named by SCS_AGENT_ID', async () => {
    const created = await callTool(stdio, 'create_session', { purpose: 'stdio session' });
    expect(created.isError).toBe(false);
    expect(created.json).toMatchObject({ success: true, created_by: 'stdio-agent' });
    sessionId = created.json.session_id as string;

    const added = await callTool(stdio, 'add_message', {
      session_id: sessionId,
      content: 'hello from stdio',
    });
    expect(added.json).toMatchObject({ success: true, message_id: expect.any(Number) });

    const read = await callTool(stdio, 'get_messages', { session_id: sessionId });
    const messages = read.json.messages as Message[];
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      id: added.json.message_id,
      sender: 'stdio-agent',
      content: 'hello from stdio',
      visibility: 'public',
    });
  });

  it('answers domain failures over stdio as isError results with the stable code', async () => {
    const missing = await callTool(stdio, 'get_session', { session_id: 'session_0000000000000000' });
    expect(missing.isError).toBe(true);
    expect(missing.json.code).toBe('SESSION_NOT_FOUND');
  });

  it("lets an HTTP agent on the same data directory see the stdio agent's public message, not its private note", async () => {
    await callTool(stdio, 'add_private_note', { session_id: sessionId, content: 'stdio private thought' });
    const token = await tokenFor(http, 'http-agent');
    const { status, body } = await callHttpTool(
      http.url,
      'get_messages',
      { session_id: sessionId },
      { authorization: `Bearer ${token}` },
    );
    expect(status).toBe(200);
    const contents = (body.messages as Message[]).map((m) => [m.sender, m.content]);
    expect(contents).toEqual([['stdio-agent', 'hello from stdio']]);
  });

  it('lets the stdio agent see what an HTTP agent wrote to the same session', async () => {
    const token = await tokenFor(http, 'http-agent');
    const added = await callHttpTool(
      http.url,
      'add_message',
      { session_id: sessionId, content: 'hello from http' },
      { authorization: `Bearer ${token}` },
    );
    expect(added.status).toBe(200);
    const read = await callTool(stdio, 'get_messages', { session_id: sessionId, sender: 'http-agent' });
    expect((read.json.messages as Message[]).map((m) => m.content)).toEqual(['hello from http']);
  });
});
