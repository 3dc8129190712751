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

  it('the notification stream of a session replays what was missed after Last-Event-ID from the change feed, once per URI, and allows one stream at a time', async () => {
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
    const read = async (stream: Response, enough: (text: string) => boolean) => {
      const reader = stream.body!.getReader();
      let text = '';
      const end = Date.now() + 3000;
      while (!enough(text) && Date.now() < end) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      return text;
    };
    const idsOf = (text: string) => [...text.matchAll(/^id: (\S+)\nevent: message/gm)].map((m) => m[1]!);

    // A first stream sees one notification; its event id is the change's feed cursor.
    const controller = new AbortController();
    const first = await fetch(`${server.url}/mcp`, {
      headers: { ...session, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    await callTool(alice, 'add_message', { session_id: sessionId, content: 'seen' });
    const seen = idsOf(await read(first, (t) => idsOf(t).length >= 1));
    expect(seen).toHaveLength(1);
    controller.abort();

    // While no stream is open: two more changes of the same resource, and a private one bob may not see.
    await callTool(alice, 'add_message', { session_id: sessionId, content: 'while away 1' });
    await callTool(alice, 'add_message', { session_id: sessionId, content: 'secret', visibility: 'private' });
    await callTool(alice, 'add_message', { session_id: sessionId, content: 'while away 2' });

    const resumedController = new AbortController();
    const resumed = await fetch(`${server.url}/mcp`, {
      headers: { ...session, accept: 'text/event-stream', 'last-event-id': seen[0]! },
      signal: resumedController.signal,
    });
    expect(resumed.status).toBe(200);
    const second = await fetch(`${server.url}/mcp`, {
      headers: { ...session, accept: 'text/event-stream' },
    });
    expect(second.status).toBe(409);
    await second.text();
    const replayed = await read(resumed, (t) => idsOf(t).length >= 1);
    // One notification for the URI (what changed is read from the resource), newer than the one seen.
    const replayedIds = idsOf(replayed);
    expect(replayedIds).toHaveLength(1);
    expect(Number(replayedIds[0])).toBeGreaterThan(Number(seen[0]));
    expect(replayed).toContain(`"uri":"${uri}"`);
    // Then live notifications continue on the resumed stream, with higher ids.
    await callTool(alice, 'add_message', { session_id: sessionId, content: 'live again' });
    const live = idsOf(await read(resumed, (t) => idsOf(t).length >= 1));
    expect(live).toHaveLength(1);
    expect(Number(live[0])).toBeGreaterThan(Number(replayedIds[0]));
    resumedController.abort();

    // Only a change bob may not see while away: the replay has nothing for him, then a visible one arrives live.
    await callTool(alice, 'add_message', {
      session_id: sessionId,
      content: 'only secret',
      visibility: 'private',
    });
    const last = new AbortController();
    const again = await fetch(`${server.url}/mcp`, {
      headers: { ...session, accept: 'text/event-stream', 'last-event-id': live[0]! },
      signal: last.signal,
    });
    await callTool(alice, 'add_message', { session_id: sessionId, content: 'visible after' });
    const after = await read(again, (t) => idsOf(t).length >= 1);
    const [only] = idsOf(after);
    expect(idsOf(after)).toHaveLength(1);
    // Its id is the cursor of the visible message's change, not the private one's (which came first).
    expect(Number(only)).toBeGreaterThan(Number(live[0]) + 1);
    last.abort();
    await fetch(`${server.url}/mcp`, { method: 'DELETE', headers: session });
  });
});
