import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryDatabase } from './helpers/database.js';
import { callTool, connectMcp, openRawSession } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

describe('the write path', () => {
  let server: TestServer;
  let auth: Record<string, string>;
  let sessionId: string;

  beforeAll(async () => {
    server = await startTestServer();
    auth = { authorization: `Bearer ${await tokenFor(server, 'writer')}` };
    sessionId = (await callHttpTool(server.url, 'create_session', { purpose: 'writes' }, auth)).body
      .session_id as string;
  });
  afterAll(async () => server.cleanup());

  it('concurrent writes that share a commit succeed or fail one by one, and every confirmed one is stored', async () => {
    const calls = Array.from({ length: 60 }, (_, i) =>
      callHttpTool(
        server.url,
        'add_message',
        // Every fifth write names a parent that does not exist: it must fail alone.
        {
          session_id: sessionId,
          content: `write ${i}`,
          ...(i % 5 === 0 ? { parent_message_id: 999_999 } : {}),
        },
        auth,
      ),
    );
    const results = await Promise.all(calls);
    const ok = results.filter((r) => r.status === 200).map((r) => r.body.message_id as number);
    const failed = results.filter((r) => r.status !== 200);
    expect(ok).toHaveLength(48);
    expect(failed.every((r) => r.body.code === 'MESSAGE_NOT_FOUND')).toBe(true);
    expect(new Set(ok).size).toBe(48);

    const stored = await queryDatabase<{ id: number; content: string }>(
      server.dataDir,
      'SELECT id, content FROM messages WHERE session_id = ? ORDER BY id',
      [sessionId],
    );
    expect(stored.map((r) => r.id)).toEqual([...ok].sort((a, b) => a - b));
    expect(stored.some((r) => r.content === 'write 0')).toBe(false);
    const audited = await callHttpTool(
      server.url,
      'get_audit_log',
      { session_id: sessionId, limit: 1000 },
      { authorization: `Bearer ${await tokenFor(server, 'root', { admin: true })}` },
    );
    const adds = (audited.body.entries as { action: string }[]).filter((e) => e.action === 'add_message');
    expect(adds).toHaveLength(48);
  });

  it('an MCP tools/call on an established session is answered as JSON with the same result as the SDK path', async () => {
    const client = await connectMcp(server.url, auth);
    const viaClient = await callTool(client, 'get_messages', { session_id: sessionId, limit: 3 });
    await client.close();

    // A raw session: initialize, then the same call accepting JSON only.
    const headers = await openRawSession(server.url, auth);
    const res = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: {
        ...headers,
        accept: 'application/json',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'get_messages', arguments: { session_id: sessionId, limit: 3 } },
      }),
    });
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const reply = (await res.json()) as { id: number; result: { content: { text: string }[] } };
    expect(reply.id).toBe(7);
    expect(JSON.parse(reply.result.content[0]!.text)).toEqual(viaClient.json);

    // Bad arguments on the same path: a tool error naming the argument, nothing thrown.
    const bad = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 8,
        method: 'tools/call',
        params: { name: 'add_message', arguments: { session_id: sessionId, content: 42 } },
      }),
    });
    const badReply = (await bad.json()) as {
      result: { isError: boolean; structuredContent: { code: string; error: string } };
    };
    expect(badReply.result.isError).toBe(true);
    expect(badReply.result.structuredContent.code).toBe('INVALID_INPUT');
    expect(badReply.result.structuredContent.error).toMatch(/content/);
  });
});
