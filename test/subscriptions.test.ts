import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectMcp, openRawSession } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

/** Collects resources/updated notifications a client receives. */
function collectUpdates(client: Client): string[] {
  const uris: string[] = [];
  client.setNotificationHandler('notifications/resources/updated', (n) => {
    uris.push(n.params.uri);
  });
  return uris;
}

/** Waits until `predicate` holds or `ms` pass (bounded; not a timing assertion). */
async function until(predicate: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describe('resource subscriptions', () => {
  let server: TestServer;
  let sessionId: string;
  let alice: Client;
  const headers: Record<string, Record<string, string>> = {};

  beforeAll(async () => {
    server = await startTestServer();
    for (const [name, type] of [
      ['alice', 'claude'],
      ['bob', 'claude'],
      ['carol', 'cursor'],
    ] as const) {
      headers[name] = { authorization: `Bearer ${await tokenFor(server, name, { agentType: type })}` };
    }
    alice = await connectMcp(server.url, headers.alice);
    sessionId = (await callTool(alice, 'create_session', { purpose: 'subs' })).json.session_id as string;
  });
  afterAll(async () => {
    await alice.close();
    await server.cleanup();
  });

  for (const mode of ['legacy', 'auto'] as const) {
    it(`a ${mode === 'legacy' ? 'resources/subscribe' : 'subscriptions/listen'} subscriber is notified only of messages it may see`, async () => {
      const bob = await connectMcp(server.url, headers.bob, mode);
      const carol = await connectMcp(server.url, headers.carol, mode);
      const bobUpdates = collectUpdates(bob);
      const carolUpdates = collectUpdates(carol);
      const uri = `session://${sessionId}`;
      if (mode === 'legacy') {
        await bob.subscribeResource({ uri });
        await carol.subscribeResource({ uri });
      } else {
        expect(bob.getProtocolEra()).toBe('modern');
        await bob.listen({ resourceSubscriptions: [uri] });
        await carol.listen({ resourceSubscriptions: [uri] });
      }
      await callTool(alice, 'add_message', {
        session_id: sessionId,
        content: 'for claude agents',
        visibility: 'agent_only',
      });
      await until(() => bobUpdates.length >= 1);
      expect(bobUpdates).toEqual([uri]);
      await callTool(alice, 'add_message', {
        session_id: sessionId,
        content: 'just me',
        visibility: 'private',
      });
      await callTool(alice, 'add_message', { session_id: sessionId, content: 'everyone' });
      await until(() => bobUpdates.length >= 2 && carolUpdates.length >= 1);
      await new Promise((r) => setTimeout(r, 100));
      expect(bobUpdates).toEqual([uri, uri]);
      expect(carolUpdates).toEqual([uri]);
      await bob.close();
      await carol.close();
    });
  }

  it('a token without the read permission cannot subscribe in either era', async () => {
    const issued = await callHttpTool(server.url, 'authenticate_agent', {
      agent_id: 'writer-only',
      api_key: server.apiKey,
      requested_permissions: ['write'],
    });
    const auth = { authorization: `Bearer ${issued.body.token as string}` };
    const legacy = await connectMcp(server.url, auth);
    await expect(legacy.subscribeResource({ uri: `session://${sessionId}` })).rejects.toThrow(/read/);
    await legacy.close();
    const modern = await connectMcp(server.url, auth, 'auto');
    await expect(modern.listen({ resourceSubscriptions: [`session://${sessionId}`] })).rejects.toThrow(
      /read/,
    );
    await modern.close();
  });

  it("subscribing to another agent's memory is refused", async () => {
    const bob = await connectMcp(server.url, headers.bob);
    await expect(bob.subscribeResource({ uri: 'agent://alice/memory' })).rejects.toThrow(/another agent/);
    await bob.close();
  });

  it('a memory subscriber learns of its own memory changes', async () => {
    const bob = await connectMcp(server.url, headers.bob);
    const updates = collectUpdates(bob);
    await bob.subscribeResource({ uri: 'agent://bob/memory' });
    await callTool(alice, 'set_memory', { key: 'k', value: 1 });
    await callTool(bob, 'set_memory', { key: 'k', value: 2 });
    await until(() => updates.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(updates).toEqual(['agent://bob/memory']);
    await bob.close();
  });

  it('the notification stream of a session replays what was missed after Last-Event-ID, and allows one stream at a time', async () => {
    const session = await openRawSession(server.url, headers.bob!);
    const post = async (message: object) => {
      const res = await fetch(`${server.url}/mcp`, {
        method: 'POST',
        headers: session,
        body: JSON.stringify(message),
      });
      await res.text();
    };
    const uri = `session://${sessionId}`;
    await post({ jsonrpc: '2.0', id: 2, method: 'resources/subscribe', params: { uri } });

    // No stream is open: both notifications wait in the session's replay buffer.
    await callTool(alice, 'add_message', { session_id: sessionId, content: 'while away 1' });
    await callTool(alice, 'add_message', { session_id: sessionId, content: 'while away 2' });

    const controller = new AbortController();
    const stream = await fetch(`${server.url}/mcp`, {
      headers: { ...session, accept: 'text/event-stream', 'last-event-id': '1' },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    const second = await fetch(`${server.url}/mcp`, {
      headers: { ...session, accept: 'text/event-stream' },
    });
    expect(second.status).toBe(409);
    await second.text();

    const reader = stream.body!.getReader();
    let text = '';
    const end = Date.now() + 3000;
    while (!text.includes('\n\n') && Date.now() < end) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    expect(text).toContain('id: 2\n');
    expect(text).not.toContain('id: 1\n');
    expect(text).toContain(`"uri":"${uri}"`);
    await fetch(`${server.url}/mcp`, { method: 'DELETE', headers: session });
  });
});
