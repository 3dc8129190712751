import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectMcp } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { until } from './helpers/ws-client.js';

type Mail = {
  id: number;
  from: string;
  to: string;
  type: string;
  content: unknown;
  metadata: unknown;
  reply_to: number | null;
  created_at: string;
  delivered_at: string | null;
  read_at: string | null;
};
type Agent = { agent_id: string; name: string | null; status: string; session_id: string | null };

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('agents and mail', () => {
  let server: TestServer;
  const headers = new Map<string, Record<string, string>>();
  const clients: Client[] = [];

  /** Bearer headers for an agent (type `claude` unless given), cached. */
  async function auth(agentId: string, agentType = 'claude'): Promise<Record<string, string>> {
    let h = headers.get(agentId);
    if (h === undefined) {
      h = { authorization: `Bearer ${await tokenFor(server, agentId, { agentType })}` };
      headers.set(agentId, h);
    }
    return h;
  }

  /** Calls a tool over POST /mcp/tool/{name} as `agentId`. */
  async function http(agentId: string, tool: string, args: Record<string, unknown> = {}) {
    return callHttpTool(server.url, tool, args, await auth(agentId));
  }

  async function mcp(agentId: string, agentType = 'claude'): Promise<Client> {
    const client = await connectMcp(server.url, await auth(agentId, agentType));
    clients.push(client);
    return client;
  }

  async function createSession(agentId: string): Promise<string> {
    return (await http(agentId, 'create_session', { purpose: 'mail test' })).body.session_id as string;
  }

  async function inbox(agentId: string, args: Record<string, unknown> = {}) {
    const { status, body } = await http(agentId, 'get_inbox', args);
    expect(status).toBe(200);
    return body as { messages: Mail[]; count: number; has_more: boolean; next_cursor: number | null };
  }

  async function sent(agentId: string): Promise<Mail[]> {
    return (await http(agentId, 'get_sent_messages', { limit: 1000 })).body.messages as Mail[];
  }

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.cleanup();
  });

  describe('registry', () => {
    it('register_agent returns the caller and the peers of its session, not agents of other sessions', async () => {
      const session = await createSession('reg-alice');
      const other = await createSession('reg-carol');
      const alice = await mcp('reg-alice');
      const first = await callTool(alice, 'register_agent', {
        name: 'Alice',
        capabilities: ['review'],
        session_id: session,
      });
      expect(first.json).toMatchObject({
        success: true,
        agent_id: 'reg-alice',
        websocket_url: '/ws/reg-alice',
        peers: [],
      });
      await http('reg-carol', 'register_agent', { name: 'Carol', session_id: other });

      const { status, body } = await http('reg-bob', 'register_agent', {
        name: 'Bob',
        capabilities: ['analysis'],
        session_id: session,
      });
      expect(status).toBe(200);
      expect(body).toMatchObject({ success: true, agent_id: 'reg-bob' });
      const peers = body.peers as Agent[];
      expect(peers.map((p) => p.agent_id)).toEqual(['reg-alice']);
      expect(peers[0]).toMatchObject({ name: 'Alice', status: 'active', session_id: session });
    });

    it('refuses registration in a session that does not exist', async () => {
      const { status, body } = await http('reg-lost', 'register_agent', {
        session_id: 'session_0000000000000000',
      });
      expect(status).toBe(404);
      expect(body.code).toBe('SESSION_NOT_FOUND');
    });

    it('list_agents shows a just-seen agent as active with its capabilities, and filters by session', async () => {
      const session = await createSession('la-alice');
      await http('la-alice', 'register_agent', { name: 'A', capabilities: ['x', 'y'], session_id: session });
      await http('la-bob', 'register_agent', { name: 'B', session_id: session });
      const client = await mcp('la-alice');
      const { json } = await callTool(client, 'list_agents', { session_id: session });
      const agents = json.agents as Array<Agent & { capabilities: string[]; last_heartbeat: string }>;
      expect(json.total).toBe(2);
      expect(agents.map((a) => a.agent_id).sort()).toEqual(['la-alice', 'la-bob']);
      const alice = agents.find((a) => a.agent_id === 'la-alice');
      expect(alice).toMatchObject({ status: 'active', capabilities: ['x', 'y'] });
      expect(alice?.last_heartbeat).toMatch(ISO_MS);
      const active = await callTool(client, 'list_agents', { session_id: session, status: 'active' });
      expect(active.json.total).toBe(2);
      const offline = await callTool(client, 'list_agents', { session_id: session, status: 'offline' });
      expect(offline.json.total).toBe(0);
    });
  });

  describe('send_message', () => {
    let session: string;
    beforeAll(async () => {
      session = await createSession('sm-alice');
      const elsewhere = await createSession('sm-dave');
      for (const id of ['sm-alice', 'sm-bob', 'sm-carol']) {
        await http(id, 'register_agent', { session_id: session });
      }
      await http('sm-dave', 'register_agent', { session_id: elsewhere });
    });

    it('sends to one agent id over MCP', async () => {
      const alice = await mcp('sm-alice');
      const { json, isError } = await callTool(alice, 'send_message', {
        to: 'sm-bob',
        content: 'hello bob',
        type: 'ping',
        metadata: { priority: 'high' },
      });
      expect(isError).toBe(false);
      expect(json).toMatchObject({ success: true, recipients: ['sm-bob'], count: 1 });
      const [id] = json.message_ids as number[];
      const mail = (await inbox('sm-bob')).messages.find((m) => m.id === id);
      expect(mail).toMatchObject({
        from: 'sm-alice',
        to: 'sm-bob',
        type: 'ping',
        content: 'hello bob',
        metadata: { priority: 'high' },
        reply_to: null,
      });
      expect(mail?.created_at).toMatch(ISO_MS);
    });

    it('sends to a list of agent ids, one mail each', async () => {
      const { body } = await http('sm-alice', 'send_message', {
        to: ['sm-bob', 'sm-carol'],
        content: { task: 'split' },
      });
      expect(body).toMatchObject({ success: true, recipients: ['sm-bob', 'sm-carol'], count: 2 });
      const [toBob, toCarol] = body.message_ids as number[];
      expect((await inbox('sm-bob')).messages.find((m) => m.id === toBob)?.content).toEqual({
        task: 'split',
      });
      expect((await inbox('sm-carol')).messages.find((m) => m.id === toCarol)?.type).toBe('request');
    });

    it('sends "ALL" to the registered agents of the sender\'s session, not the sender, not other sessions', async () => {
      const { body } = await http('sm-alice', 'send_message', {
        to: 'ALL',
        content: 'team meeting',
        type: 'broadcast',
      });
      expect(body.success).toBe(true);
      expect([...(body.recipients as string[])].sort()).toEqual(['sm-bob', 'sm-carol']);
      const has = async (agentId: string) =>
        (await inbox(agentId)).messages.some((m) => m.content === 'team meeting');
      expect(await has('sm-bob')).toBe(true);
      expect(await has('sm-carol')).toBe(true);
      expect(await has('sm-alice')).toBe(false);
      expect(await has('sm-dave')).toBe(false);
    });

    it('refuses empty content with INVALID_INPUT', async () => {
      const { status, body } = await http('sm-alice', 'send_message', { to: 'sm-bob', content: '' });
      expect(status).toBe(400);
      expect(body.code).toBe('INVALID_INPUT');
    });
  });

  describe('inbox', () => {
    let ids: number[];
    beforeAll(async () => {
      ids = [];
      for (let n = 1; n <= 5; n++) {
        ids.push(
          ...((await http('in-alice', 'send_message', { to: 'in-bob', content: `mail ${n}` })).body
            .message_ids as number[]),
        );
      }
    });

    it('pages with limit and after_id/next_cursor, oldest first, each mail once', async () => {
      const seen: number[] = [];
      let cursor: number | undefined;
      for (;;) {
        const page = await inbox('in-bob', {
          limit: 2,
          ...(cursor === undefined ? {} : { after_id: cursor }),
        });
        expect(page.count).toBe(page.messages.length);
        seen.push(...page.messages.map((m) => m.id));
        if (!page.has_more) {
          expect(page.next_cursor).toBeNull();
          break;
        }
        expect(page.messages).toHaveLength(2);
        cursor = page.next_cursor ?? undefined;
      }
      expect(seen).toEqual(ids);
      expect((await inbox('in-bob', { after_id: ids[2] })).messages.map((m) => m.id)).toEqual(ids.slice(3));
    });

    it('unread_only skips acknowledged mail', async () => {
      const { status, body } = await http('in-bob', 'ack_message', { message_id: ids[1] });
      expect(status).toBe(200);
      expect((body.message as Mail).read_at).toMatch(ISO_MS);
      const unread = await inbox('in-bob', { unread_only: true });
      expect(unread.messages.map((m) => m.id)).toEqual(ids.filter((id) => id !== ids[1]));
      expect((await inbox('in-bob')).messages).toHaveLength(5);
    });

    it('is private to its owner: another agent sees an empty inbox', async () => {
      expect((await inbox('in-alice')).messages).toEqual([]);
    });
  });

  describe('acknowledgement and receipts', () => {
    it('get_sent_messages shows delivered_at once the recipient fetched the mail and read_at once it acked', async () => {
      const [id] = (await http('rc-alice', 'send_message', { to: 'rc-bob', content: 'track me' })).body
        .message_ids as number[];
      const find = async () => (await sent('rc-alice')).find((m) => m.id === id);
      expect(await find()).toMatchObject({ to: 'rc-bob', delivered_at: null, read_at: null });

      await inbox('rc-bob');
      const delivered = await find();
      expect(delivered?.delivered_at).toMatch(ISO_MS);
      expect(delivered?.read_at).toBeNull();

      const bob = await mcp('rc-bob');
      const acked = await callTool(bob, 'ack_message', { message_id: id });
      expect(acked.isError).toBe(false);
      const read = await find();
      expect(read?.read_at).toMatch(ISO_MS);
      expect(read?.delivered_at).toBe(delivered?.delivered_at);
    });

    it('lets only the recipient ack: the sender and a third agent get MESSAGE_NOT_FOUND', async () => {
      const [id] = (await http('rc-alice', 'send_message', { to: 'rc-bob', content: 'only bob' })).body
        .message_ids as number[];
      for (const other of ['rc-alice', 'rc-carol']) {
        const { status, body } = await http(other, 'ack_message', { message_id: id });
        expect(status).toBe(404);
        expect(body).toMatchObject({ success: false, code: 'MESSAGE_NOT_FOUND' });
      }
      const carol = await mcp('rc-carol');
      const overMcp = await callTool(carol, 'ack_message', { message_id: id });
      expect(overMcp.isError).toBe(true);
      expect(overMcp.json.code).toBe('MESSAGE_NOT_FOUND');
      expect((await sent('rc-alice')).find((m) => m.id === id)?.read_at).toBeNull();
    });

    it('answers an ack of a mail id that does not exist with MESSAGE_NOT_FOUND', async () => {
      const { status, body } = await http('rc-bob', 'ack_message', { message_id: 999_999 });
      expect(status).toBe(404);
      expect(body.code).toBe('MESSAGE_NOT_FOUND');
    });
  });

  describe('reply_to', () => {
    it('accepts a reply to a mail the caller received or sent, and records it', async () => {
      const [id] = (await http('rp-alice', 'send_message', { to: 'rp-bob', content: 'question' })).body
        .message_ids as number[];
      const reply = await http('rp-bob', 'send_message', {
        to: 'rp-alice',
        content: 'answer',
        type: 'response',
        reply_to: id,
      });
      expect(reply.status).toBe(200);
      const [replyId] = reply.body.message_ids as number[];
      expect((await inbox('rp-alice')).messages.find((m) => m.id === replyId)?.reply_to).toBe(id);
      const followUp = await http('rp-alice', 'send_message', {
        to: 'rp-bob',
        content: 'also',
        reply_to: id,
      });
      expect(followUp.status).toBe(200);
    });

    it('refuses a reply to a mail the caller is not part of, or that does not exist, and sends nothing', async () => {
      const [id] = (await http('rp-alice', 'send_message', { to: 'rp-bob', content: 'between us' })).body
        .message_ids as number[];
      for (const replyTo of [id, 999_999]) {
        const { status, body } = await http('rp-carol', 'send_message', {
          to: 'rp-alice',
          content: 'butting in',
          reply_to: replyTo,
        });
        expect(status).toBe(404);
        expect(body.code).toBe('MESSAGE_NOT_FOUND');
      }
      expect((await inbox('rp-alice')).messages.some((m) => m.content === 'butting in')).toBe(false);
    });
  });

  describe('wait_for_messages', () => {
    let session: string;
    let bob: Client;
    beforeAll(async () => {
      session = await createSession('wt-alice');
      bob = await mcp('wt-bob');
    });

    const post = async (content: string, visibility = 'public') => {
      const { body } = await http('wt-alice', 'add_message', { session_id: session, content, visibility });
      return body.message_id as number;
    };

    /** Resolves once `n` wait_for_messages calls are registered with the server (bounded). */
    const waiting = (n: number) => until(() => server.app.services.waiter.waiting >= n);

    it('returns at once when visible messages newer than after_id exist', async () => {
      const id = await post('already here');
      const { json } = await callTool(bob, 'wait_for_messages', {
        session_id: session,
        after_id: id - 1,
        timeout_s: 30,
      });
      expect(json).toMatchObject({ success: true, timed_out: false });
      expect((json.messages as Array<{ content: string }>).map((m) => m.content)).toEqual(['already here']);
    });

    it('returns timed_out with no messages after timeout_s when nothing arrives', async () => {
      const last = await post('before the wait');
      const { json } = await callTool(bob, 'wait_for_messages', {
        session_id: session,
        after_id: last,
        timeout_s: 1,
      });
      expect(json).toMatchObject({ success: true, timed_out: true, messages: [] });
    });

    it('is woken by a new message from another agent and returns it', async () => {
      const last = await post('cursor');
      const before = server.app.services.waiter.waiting;
      const waited = callTool(bob, 'wait_for_messages', {
        session_id: session,
        after_id: last,
        timeout_s: 20,
      });
      await waiting(before + 1);
      const id = await post('wake up');
      const { json } = await waited;
      expect(json).toMatchObject({ success: true, timed_out: false });
      expect((json.messages as Array<{ id: number; content: string }>).map((m) => [m.id, m.content])).toEqual(
        [[id, 'wake up']],
      );
    });

    it('is neither woken by nor returns a private message of another agent', async () => {
      const last = await post('cursor 2');
      const before = server.app.services.waiter.waiting;
      const waited = http('wt-bob', 'wait_for_messages', {
        session_id: session,
        after_id: last,
        timeout_s: 1,
      });
      await waiting(before + 1);
      await post('alice only', 'private');
      const { body } = await waited;
      expect(body).toMatchObject({ success: true, timed_out: true, messages: [] });
    });
  });

  describe('the inbox resource', () => {
    it('agent://bob/inbox is readable by bob and lists his unread mail', async () => {
      await http('res-alice', 'send_message', { to: 'res-bob', content: 'via resource' });
      const bob = await mcp('res-bob');
      const result = await bob.readResource({ uri: 'agent://res-bob/inbox' });
      const first = result.contents[0] as { text: string };
      const body = JSON.parse(first.text) as { agent_id: string; messages: Mail[] };
      expect(body.agent_id).toBe('res-bob');
      expect(body.messages.map((m) => m.content)).toEqual(['via resource']);
    });

    it('agent://bob/inbox is refused to alice', async () => {
      const alice = await mcp('res-alice');
      await expect(alice.readResource({ uri: 'agent://res-bob/inbox' })).rejects.toThrow(/another agent/);
      await expect(alice.subscribeResource({ uri: 'agent://res-bob/inbox' })).rejects.toThrow(
        /another agent/,
      );
    });

    it('agent://me/inbox is refused to a token without the read permission (as get_inbox is)', async () => {
      await http('res-alice', 'send_message', { to: 'res-wo', content: 'for readers only' });
      const issued = await callHttpTool(server.url, 'authenticate_agent', {
        agent_id: 'res-wo',
        api_key: server.apiKey,
        requested_permissions: ['write'],
      });
      const writeOnly = { authorization: `Bearer ${issued.body.token as string}` };
      expect((await callHttpTool(server.url, 'get_inbox', {}, writeOnly)).status).toBe(403);
      const client = await connectMcp(server.url, writeOnly);
      clients.push(client);
      await expect(client.readResource({ uri: 'agent://res-wo/inbox' })).rejects.toThrow(/permission/i);
    });

    it('a resources/subscribe on agent://bob/inbox notifies bob when mail arrives, and only for his mail', async () => {
      const bob = await mcp('sub-bob');
      const updates: string[] = [];
      bob.setNotificationHandler('notifications/resources/updated', (n) => {
        updates.push(n.params.uri);
      });
      await bob.subscribeResource({ uri: 'agent://sub-bob/inbox' });
      await http('sub-alice', 'send_message', { to: 'sub-carol', content: 'not for bob' });
      await http('sub-alice', 'send_message', { to: 'sub-bob', content: 'for bob' });
      await until(() => updates.length >= 1);
      expect(updates[0]).toBe('agent://sub-bob/inbox');
      const { json } = await callTool(bob, 'get_inbox', {});
      expect((json.messages as Mail[]).map((m) => m.content)).toEqual(['for bob']);
    });
  });
});
