import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { TestSocket, until, type RefusedUpgrade, type WsFrame } from './helpers/ws-client.js';

type Mail = {
  id: number;
  from: string;
  to: string;
  content: unknown;
  delivered_at: string | null;
  read_at: string | null;
};
type Message = { id: number; content: string };

const mailOf = (f: WsFrame) => f.mail as Mail;
const messageOf = (f: WsFrame) => f.message as Message;

describe('WebSocket /ws/{agent_id}', () => {
  let server: TestServer;
  const tokens = new Map<string, string>();
  const sockets: TestSocket[] = [];

  /** A token per agent id, cached (agent type `claude` unless given). */
  async function token(agentId: string, options: { agentType?: string; admin?: boolean } = {}) {
    const key = `${agentId}/${options.agentType ?? 'claude'}/${options.admin === true}`;
    let t = tokens.get(key);
    if (t === undefined) {
      t = await tokenFor(server, agentId, { agentType: 'claude', ...options });
      tokens.set(key, t);
    }
    return t;
  }

  const bearer = async (agentId: string, options: { agentType?: string; admin?: boolean } = {}) => ({
    authorization: `Bearer ${await token(agentId, options)}`,
  });

  /** Connects with ?token= and waits for backlog_done (welcome, then the mail backlog, come before it). */
  async function connect(
    agentId: string,
    options: { agentType?: string; admin?: boolean; afterId?: number } = {},
  ): Promise<TestSocket> {
    const query: Record<string, string | number> = { token: await token(agentId, options) };
    if (options.afterId !== undefined) query.after_id = options.afterId;
    const socket = await TestSocket.open(server.url, agentId, { query });
    sockets.push(socket);
    await socket.waitFor((f) => f.type === 'backlog_done');
    return socket;
  }

  async function refusal(promise: Promise<TestSocket>): Promise<RefusedUpgrade> {
    try {
      const socket = await promise;
      sockets.push(socket);
    } catch (error) {
      return error as RefusedUpgrade;
    }
    throw new Error('the upgrade was accepted');
  }

  async function sendMail(from: string, to: string, content: unknown): Promise<number> {
    const { status, body } = await callHttpTool(
      server.url,
      'send_message',
      { to, content },
      await bearer(from),
    );
    expect(status).toBe(200);
    return (body.message_ids as number[])[0] ?? -1;
  }

  async function createSession(agentId: string): Promise<string> {
    const { body } = await callHttpTool(
      server.url,
      'create_session',
      { purpose: 'ws test' },
      await bearer(agentId),
    );
    return body.session_id as string;
  }

  beforeAll(async () => {
    // The slow-consumer test below is sized for a 1 MiB per-client buffer.
    server = await startTestServer({ MAX_CLIENT_BUFFER_BYTES: String(1024 * 1024) });
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });
  afterAll(async () => server.cleanup());

  describe('authentication', () => {
    it('refuses an upgrade without credentials with 401', async () => {
      const refused = await refusal(TestSocket.open(server.url, 'alice'));
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
    });

    it('refuses an invalid token with 401', async () => {
      const refused = await refusal(TestSocket.open(server.url, 'alice', { query: { token: 'not-a-jwt' } }));
      expect(refused.status).toBe(401);
    });

    it("refuses bob's token on /ws/alice with 403", async () => {
      const refused = await refusal(TestSocket.open(server.url, 'alice', { headers: await bearer('bob') }));
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ success: false, code: 'PERMISSION_DENIED' });
    });

    it('accepts a Bearer header and greets the agent with a welcome frame', async () => {
      const socket = await TestSocket.open(server.url, 'alice', { headers: await bearer('alice') });
      sockets.push(socket);
      const welcome = await socket.waitFor((f) => f.type === 'welcome');
      expect(welcome).toMatchObject({ agent_id: 'alice', resumed_after: null });
    });

    it('accepts a token in ?token= (for clients that cannot set headers)', async () => {
      const socket = await TestSocket.open(server.url, 'alice', { query: { token: await token('alice') } });
      sockets.push(socket);
      expect((await socket.waitFor((f) => f.type === 'welcome')).agent_id).toBe('alice');
    });

    it('accepts the X-API-Key and X-Agent-Id headers', async () => {
      const socket = await TestSocket.open(server.url, 'static-agent', {
        headers: { 'x-api-key': server.apiKey, 'x-agent-id': 'static-agent' },
      });
      sockets.push(socket);
      expect((await socket.waitFor((f) => f.type === 'welcome')).agent_id).toBe('static-agent');
    });

    it('refuses the API key with a wrong X-Agent-Id for the path with 403', async () => {
      const refused = await refusal(
        TestSocket.open(server.url, 'alice', {
          headers: { 'x-api-key': server.apiKey, 'x-agent-id': 'mallory' },
        }),
      );
      expect(refused.status).toBe(403);
    });

    it('pushes no mail or session messages to a token without the read permission', async () => {
      const issued = await callHttpTool(server.url, 'authenticate_agent', {
        agent_id: 'write-only',
        api_key: server.apiKey,
        requested_permissions: ['write'],
      });
      const writeOnly = issued.body.token as string;
      const inbox = await callHttpTool(server.url, 'get_inbox', {}, { authorization: `Bearer ${writeOnly}` });
      expect(inbox.status).toBe(403);
      const sessionId = await createSession('wo-alice');
      await callHttpTool(
        server.url,
        'add_message',
        { session_id: sessionId, content: 'for readers' },
        await bearer('wo-alice'),
      );
      await sendMail('wo-alice', 'write-only', 'for readers too');

      let socket: TestSocket;
      try {
        socket = await TestSocket.open(server.url, 'write-only', { query: { token: writeOnly } });
      } catch (error) {
        expect((error as RefusedUpgrade).status).toBe(403);
        return;
      }
      sockets.push(socket);
      socket.send({ type: 'subscribe', session_id: sessionId, after_id: 0 });
      await socket.waitFor((f) => f.type === 'subscribed' || f.type === 'error');
      await sendMail('wo-alice', 'write-only', 'live, for readers');
      // A heartbeat needs only write; its answer comes after any push already queued.
      socket.send({ type: 'heartbeat' });
      await socket.waitFor((f) => f.type === 'heartbeat_ack' || socket.closeCode !== undefined);
      expect(socket.frames.filter((f) => f.type === 'mail' || f.type === 'session_message')).toEqual([]);
    });

    it('refuses a malformed after_id with 400', async () => {
      const refused = await refusal(
        TestSocket.open(server.url, 'alice', { query: { token: await token('alice'), after_id: 'x' } }),
      );
      expect(refused.status).toBe(400);
      expect(refused.body.code).toBe('INVALID_INPUT');
    });
  });

  describe('mail', () => {
    it('pushes mail sent while the agent was offline when it connects, and the sender then sees delivered_at', async () => {
      const id = await sendMail('off-alice', 'off-bob', 'while you were away');
      const before = await callHttpTool(server.url, 'get_sent_messages', {}, await bearer('off-alice'));
      expect((before.body.messages as Mail[]).find((m) => m.id === id)?.delivered_at).toBeNull();

      const bob = await connect('off-bob');
      const mails = bob.ofType('mail').map(mailOf);
      expect(mails).toHaveLength(1);
      expect(mails[0]).toMatchObject({
        id,
        from: 'off-alice',
        to: 'off-bob',
        content: 'while you were away',
      });
      expect(bob.frames.map((f) => f.type)).toEqual(['welcome', 'mail', 'backlog_done']);
      expect(bob.ofType('backlog_done')[0]?.count).toBe(1);

      let delivered: string | null | undefined = null;
      await until(async () => {
        const after = await callHttpTool(server.url, 'get_sent_messages', {}, await bearer('off-alice'));
        delivered = (after.body.messages as Mail[]).find((m) => m.id === id)?.delivered_at;
        return delivered !== null;
      });
      expect(delivered).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });

    it('pushes live mail to its recipient only', async () => {
      const bob = await connect('live-bob');
      const eve = await connect('live-eve');
      const id = await sendMail('live-alice', 'live-bob', { task: 'review' });
      const frame = await bob.waitFor((f) => f.type === 'mail');
      expect(mailOf(frame)).toMatchObject({ id, from: 'live-alice', content: { task: 'review' } });
      eve.send({ type: 'heartbeat' });
      await eve.waitFor((f) => f.type === 'heartbeat_ack');
      expect(eve.ofType('mail')).toEqual([]);
      expect(eve.ofType('receipt')).toEqual([]);
    });

    it('delivers 50 mails exactly once and in order across a forced disconnect and a reconnect with ?after_id=', async () => {
      const total = 50;
      let bob = await connect('relay-bob');
      let terminated!: () => void;
      const offline = new Promise<void>((resolve) => (terminated = resolve));
      const sending = (async () => {
        for (let n = 1; n <= total; n++) {
          await sendMail('relay-alice', 'relay-bob', { n });
          // Hold at 25 until bob's socket is gone, so the disconnect falls mid-stream for sure.
          if (n === 25) await offline;
        }
      })();

      await until(() => bob.ofType('mail').length >= 15);
      expect(bob.ofType('mail').length).toBeGreaterThanOrEqual(15);
      bob.stopRecording();
      bob.ws.terminate();
      const first = bob.ofType('mail').map(mailOf);
      terminated();
      const lastId = first.at(-1)?.id ?? 0;

      bob = await connect('relay-bob', { afterId: lastId });
      expect(bob.ofType('welcome')[0]?.resumed_after).toBe(lastId);
      await sending;
      const end = await sendMail('relay-alice', 'relay-bob', 'end');
      await bob.waitFor((f) => f.type === 'mail' && mailOf(f).id === end, 10_000);

      const second = bob
        .ofType('mail')
        .map(mailOf)
        .filter((m) => m.id !== end);
      const all = [...first, ...second];
      expect(all.map((m) => (m.content as { n: number }).n)).toEqual(
        Array.from({ length: total }, (_, i) => i + 1),
      );
      const ids = all.map((m) => m.id);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    });

    it('sends the sender a receipt with read_at when the recipient acks over its socket', async () => {
      const alice = await connect('ack-alice');
      const bob = await connect('ack-bob');
      const id = await sendMail('ack-alice', 'ack-bob', 'please ack');
      await bob.waitFor((f) => f.type === 'mail' && mailOf(f).id === id);

      bob.send({ type: 'ack', message_id: id });
      const acked = await bob.waitFor((f) => f.type === 'acked');
      expect(acked.message).toMatchObject({ id, read_at: expect.any(String) });

      const receipt = await alice.waitFor(
        (f) => f.type === 'receipt' && f.message_id === id && typeof f.read_at === 'string',
      );
      expect(receipt).toMatchObject({ to: 'ack-bob', delivered_at: expect.any(String) });
    });

    it('answers an ack of mail that is not yours with MESSAGE_NOT_FOUND', async () => {
      const id = await sendMail('ack2-alice', 'ack2-bob', 'not for carol');
      const carol = await connect('ack2-carol');
      carol.send({ type: 'ack', message_id: id });
      const error = await carol.waitFor((f) => f.type === 'error');
      expect(error.code).toBe('MESSAGE_NOT_FOUND');
    });

    it('refuses an ack frame from a read-only token with PERMISSION_DENIED, as ack_message does', async () => {
      const id = await sendMail('ro-alice', 'ro-bob', 'read me, do not ack');
      const issued = await callHttpTool(server.url, 'authenticate_agent', {
        agent_id: 'ro-bob',
        api_key: server.apiKey,
        requested_permissions: ['read'],
      });
      const readOnly = issued.body.token as string;
      const overHttp = await callHttpTool(
        server.url,
        'ack_message',
        { message_id: id },
        { authorization: `Bearer ${readOnly}` },
      );
      expect(overHttp.status).toBe(403);

      const bob = await TestSocket.open(server.url, 'ro-bob', { query: { token: readOnly } });
      sockets.push(bob);
      await bob.waitFor((f) => f.type === 'welcome');
      bob.send({ type: 'ack', message_id: id });
      const answer = await bob.waitFor((f) => f.type === 'error' || f.type === 'acked');
      expect(answer).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
      const sent = await callHttpTool(server.url, 'get_sent_messages', {}, await bearer('ro-alice'));
      expect((sent.body.messages as Mail[])[0]?.read_at).toBeNull();
    });
  });

  describe('session subscriptions', () => {
    it('sends the backlog after after_id and then live messages, each only to those who may see it', async () => {
      const sessionId = await createSession('sub-alice');
      const post = async (agentId: string, content: string, visibility = 'public', admin = false) => {
        const { status } = await callHttpTool(
          server.url,
          'add_message',
          { session_id: sessionId, content, visibility },
          await bearer(agentId, { admin }),
        );
        expect(status).toBe(200);
      };
      await post('sub-alice', 'b-public');
      await post('sub-alice', 'b-agent', 'agent_only');
      await post('sub-alice', 'b-private', 'private');
      await post('sub-admin', 'b-admin', 'admin_only', true);

      const watchers = {
        alice: await connect('sub-alice'),
        bob: await connect('sub-bob'),
        carol: await connect('sub-carol', { agentType: 'cursor' }),
        admin: await connect('sub-admin', { admin: true }),
      };
      for (const socket of Object.values(watchers)) {
        socket.send({ type: 'subscribe', session_id: sessionId, after_id: 0 });
        await socket.waitFor((f) => f.type === 'subscribed');
      }

      await post('sub-alice', 'l-public');
      await post('sub-alice', 'l-agent', 'agent_only');
      await post('sub-alice', 'l-private', 'private');
      await post('sub-admin', 'l-admin', 'admin_only', true);
      await post('sub-alice', 'l-end');
      const seen: Record<string, string[]> = {};
      for (const [name, socket] of Object.entries(watchers)) {
        await socket.waitFor((f) => f.type === 'session_message' && messageOf(f).content === 'l-end');
        seen[name] = socket.ofType('session_message').map((f) => messageOf(f).content);
      }

      expect(seen).toEqual({
        alice: ['b-public', 'b-agent', 'b-private', 'l-public', 'l-agent', 'l-private', 'l-end'],
        bob: ['b-public', 'b-agent', 'l-public', 'l-agent', 'l-end'],
        carol: ['b-public', 'l-public', 'l-end'],
        admin: [
          'b-public',
          'b-agent',
          'b-private',
          'b-admin',
          'l-public',
          'l-agent',
          'l-private',
          'l-admin',
          'l-end',
        ],
      });
      // The backlog precedes the "subscribed" frame; live messages follow it.
      const bobTypes = watchers.bob.frames
        .map((f) => f.type)
        .filter((t) => t !== 'welcome' && t !== 'backlog_done');
      expect(bobTypes.indexOf('subscribed')).toBe(2);
    });

    it('pushes live messages only (no history) without after_id, and none after unsubscribe', async () => {
      const sessionId = await createSession('unsub-alice');
      const post = async (content: string) =>
        callHttpTool(
          server.url,
          'add_message',
          { session_id: sessionId, content },
          await bearer('unsub-alice'),
        );
      await post('history');
      const bob = await connect('unsub-bob');
      bob.send({ type: 'subscribe', session_id: sessionId });
      await bob.waitFor((f) => f.type === 'subscribed');
      await post('live');
      await bob.waitFor((f) => f.type === 'session_message');
      bob.send({ type: 'unsubscribe', session_id: sessionId });
      await bob.waitFor((f) => f.type === 'unsubscribed');
      await post('after unsubscribe');
      // A mail after the last post: once it arrives, a push of that post would have arrived too.
      const marker = await sendMail('unsub-alice', 'unsub-bob', 'marker');
      await bob.waitFor((f) => f.type === 'mail' && mailOf(f).id === marker);
      expect(bob.ofType('session_message').map((f) => messageOf(f).content)).toEqual(['live']);
    });

    it('answers a subscription to an unknown session with SESSION_NOT_FOUND', async () => {
      const socket = await connect('sub-lost');
      socket.send({ type: 'subscribe', session_id: 'session_0000000000000000', after_id: 0 });
      expect((await socket.waitFor((f) => f.type === 'error')).code).toBe('SESSION_NOT_FOUND');
    });
  });

  describe('frames', () => {
    it('answers a heartbeat frame with heartbeat_ack', async () => {
      const socket = await connect('hb-agent');
      socket.send({ type: 'heartbeat' });
      const ack = await socket.waitFor((f) => f.type === 'heartbeat_ack');
      expect(ack.status).toBe('active');
      const agents = await callHttpTool(server.url, 'list_agents', {}, await bearer('hb-agent'));
      const me = (agents.body.agents as Array<{ agent_id: string; last_heartbeat: string | null }>).find(
        (a) => a.agent_id === 'hb-agent',
      );
      expect(me?.last_heartbeat).toEqual(expect.any(String));
    });

    it('answers malformed frames with an INVALID_INPUT error and keeps the socket open', async () => {
      const socket = await connect('bad-frames');
      for (const frame of [
        'not json',
        { type: 'dance' },
        { type: 'subscribe', session_id: 'nope' },
        { type: 'ack', message_id: -1 },
      ]) {
        socket.send(frame);
        const error = await socket.next('error');
        expect(error.code).toBe('INVALID_INPUT');
        expect(error.error).toEqual(expect.any(String));
      }
      socket.send({ type: 'heartbeat' });
      await socket.next('heartbeat_ack');
      expect(socket.closeCode).toBeUndefined();
    });
  });

  describe('a slow consumer', () => {
    it('is closed with 1013 while a fast client on the same session receives everything', async () => {
      const sessionId = await createSession('slow-writer');
      // Whether the server has given up on the slow socket is only visible in-process; it is
      // used as the bounded loop's stop condition, the assertions are on what the clients see.
      const serverSockets = (server.app.http.websockets as unknown as { wss: { clients: Set<WebSocket> } })
        .wss.clients;
      const others = new Set(serverSockets);
      const slow = await connect('slow-reader');
      const slowOnServer = [...serverSockets].find((ws) => !others.has(ws));
      expect(slowOnServer).toBeDefined();
      const slowGivenUp = () => slowOnServer?.readyState !== slowOnServer?.OPEN;
      const fast = await connect('fast-reader');
      for (const socket of [slow, fast]) {
        socket.send({ type: 'subscribe', session_id: sessionId });
        await socket.waitFor((f) => f.type === 'subscribed');
      }
      // The slow client stops reading: the kernel buffers fill, then the server's send queue grows.
      const rawSocket = (slow.ws as unknown as { _socket: Socket })._socket;
      rawSocket.pause();

      const filler = 'x'.repeat(90_000);
      let sent = 0;
      const headers = await bearer('slow-writer');
      while (sent < 400 && !slowGivenUp()) {
        const { status } = await callHttpTool(
          server.url,
          'add_message',
          { session_id: sessionId, content: `${sent} ${filler}` },
          headers,
        );
        expect(status).toBe(200);
        sent++;
      }
      expect(slowGivenUp()).toBe(true);

      await until(() => fast.ofType('session_message').length >= sent, 10_000);
      const fastGot = fast.ofType('session_message').map((f) => Number(messageOf(f).content.split(' ')[0]));
      expect(fastGot).toEqual(Array.from({ length: sent }, (_, i) => i));
      expect(fast.closeCode).toBeUndefined();

      rawSocket.resume();
      await until(() => slow.closeCode !== undefined, 10_000);
      expect(slow.closeCode).toBe(1013);
      const slowGot = slow.ofType('session_message').map(messageOf);
      expect(slowGot.length).toBeLessThan(sent);

      // It resumes from the last message it got, and misses nothing.
      const again = await connect('slow-reader');
      again.send({ type: 'subscribe', session_id: sessionId, after_id: slowGot.at(-1)?.id ?? 0 });
      await again.waitFor((f) => f.type === 'subscribed', 10_000);
      const rest = again.ofType('session_message').map((f) => Number(messageOf(f).content.split(' ')[0]));
      expect([...slowGot.map((m) => Number(m.content.split(' ')[0])), ...rest]).toEqual(fastGot);
    });
  });
});
