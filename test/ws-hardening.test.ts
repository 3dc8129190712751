import { type Socket, connect as netConnect } from 'node:net';
import type { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { TestSocket, until, type RefusedUpgrade, type WsFrame } from './helpers/ws-client.js';

type Message = { id: number; content: string };
type Mail = { id: number; content: unknown };
const messageOf = (f: WsFrame) => f.message as Message;
const mailOf = (f: WsFrame) => f.mail as Mail;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** The server runs in this process: its RSS is this process's (reported, never asserted). */
function reportRss(attack: string, before: number): void {
  const after = process.memoryUsage().rss;
  console.info(`[rss] ${attack}: ${mib(before)} before, ${mib(after)} after`);
}

/**
 * Writes `request` (then `more`, if given) on a raw TCP socket and collects everything the server
 * answers until it closes.
 */
function rawExchange(url: string, request: string | Buffer, ms = 5000, more?: Buffer): Promise<Buffer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = netConnect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const done = () => resolve(Buffer.concat(chunks));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', done);
    socket.on('close', done);
    socket.setTimeout(ms, () => socket.destroy());
    socket.write(request);
    if (more) socket.write(more);
  });
}

function upgradeRequest(
  url: string,
  agentId: string,
  token: string,
  key = 'dGhlIHNhbXBsZSBub25jZQ==',
): string {
  const { host } = new URL(url);
  return (
    `GET /ws/${agentId}?token=${token} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`
  );
}

/** The close code of the close frame in what a server sent after its 101 answer, if any. */
function closeCodeIn(answer: Buffer): number | undefined {
  let at = answer.indexOf('\r\n\r\n') + 4;
  while (at + 2 <= answer.length) {
    const opcode = (answer[at] ?? 0) & 0x0f;
    let length = (answer[at + 1] ?? 0) & 0x7f;
    let header = 2;
    if (length === 126) {
      length = answer.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      length = Number(answer.readBigUInt64BE(at + 2));
      header = 10;
    }
    if (opcode === 0x8) return answer.readUInt16BE(at + header);
    at += header + length;
  }
  return undefined;
}

async function healthy(server: TestServer): Promise<void> {
  const res = await fetch(`${server.url}/health`);
  expect(res.status).toBe(200);
}

describe('WebSocket hardening', () => {
  let server: TestServer;
  const sockets: TestSocket[] = [];

  async function open(
    agentId: string,
    query: Record<string, string | number> = {},
    on: TestServer = server,
  ): Promise<TestSocket> {
    const socket = await TestSocket.open(on.url, agentId, {
      query: { token: await tokenFor(on, agentId), ...query },
    });
    sockets.push(socket);
    await socket.waitFor((f) => f.type === 'backlog_done');
    return socket;
  }

  async function createSession(agentId: string, on: TestServer = server): Promise<string> {
    const token = await tokenFor(on, agentId);
    const { body } = await callHttpTool(
      on.url,
      'create_session',
      { purpose: 'hardening' },
      { authorization: `Bearer ${token}` },
    );
    return body.session_id as string;
  }

  beforeAll(async () => {
    // The smallest per-client buffer allowed, so a slow client is cut off after little traffic.
    server = await startTestServer({ MAX_CLIENT_BUFFER_BYTES: String(64 * 1024) });
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });
  afterAll(async () => server.cleanup());

  describe('hostile frames and requests', () => {
    it('closes a socket that sends a frame over 256 KiB with 1009, and the server and other sockets carry on', async () => {
      const bystander = await open('bystander');
      const attacker = await open('big-sender');
      attacker.send('x'.repeat(256 * 1024 + 1));
      await until(() => attacker.closeCode !== undefined);
      expect(attacker.closeCode).toBe(1009);

      await healthy(server);
      bystander.send({ type: 'heartbeat' });
      await bystander.next('heartbeat_ack');
      expect(bystander.closeCode).toBeUndefined();
      const again = await open('big-sender');
      again.send({ type: 'heartbeat' });
      await again.next('heartbeat_ack');
    });

    it('closes raw sockets whose frame announces 4 MiB or 1 TiB with 1009 without buffering the payload', async () => {
      const token = await tokenFor(server, 'raw-huge');
      const upgrade = Buffer.from(upgradeRequest(server.url, 'raw-huge', token));
      /** A masked text frame header announcing `length` bytes (the payload follows, or not). */
      const header = (length: bigint) => {
        const frame = Buffer.alloc(14);
        frame[0] = 0x81;
        frame[1] = 0x80 | 127;
        frame.writeBigUInt64BE(length, 2);
        return frame;
      };
      const payload = Buffer.alloc(4 * 1024 * 1024, 0x61);
      const rss = process.memoryUsage().rss;
      const answers = await Promise.all(
        Array.from({ length: 50 }, () =>
          rawExchange(server.url, Buffer.concat([upgrade, header(BigInt(payload.length))]), 5000, payload),
        ),
      );
      const huge = await rawExchange(server.url, Buffer.concat([upgrade, header(2n ** 40n)]));
      reportRss('50 raw sockets each sending a 4 MiB frame, and one announcing 1 TiB', rss);
      for (const answer of [...answers, huge]) {
        expect(answer.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
        expect(closeCodeIn(answer)).toBe(1009);
      }
      await healthy(server);
    });

    it('closes a raw socket that breaks the protocol (an unmasked frame) with 1002, and the server lives on', async () => {
      const token = await tokenFor(server, 'raw-unmasked');
      const unmasked = Buffer.concat([Buffer.from([0x81, 0x02]), Buffer.from('{}')]);
      const answer = await rawExchange(
        server.url,
        Buffer.concat([Buffer.from(upgradeRequest(server.url, 'raw-unmasked', token)), unmasked]),
      );
      expect(closeCodeIn(answer)).toBe(1002);
      await healthy(server);
    });

    it('answers an upgrade that ws itself refuses (a bad Sec-WebSocket-Key) with a 400 JSON body', async () => {
      const token = await tokenFor(server, 'bad-key');
      const answer = (
        await rawExchange(server.url, upgradeRequest(server.url, 'bad-key', token, 'not-a-key'))
      ).toString();
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
        success: false,
        code: 'INVALID_INPUT',
      });
      await healthy(server);
    });

    it('survives clients that reset their connection while their upgrade is being authenticated', async () => {
      const token = await tokenFor(server, 'resetter');
      const { hostname, port } = new URL(server.url);
      // Authentication is made to wait until every client has reset, so the resets surely land in
      // that window (where Node has already handed the socket over and no longer listens for errors).
      const auth = server.app.services.auth;
      const resolve = auth.resolve.bind(auth);
      let resetAll!: () => void;
      const allReset = new Promise<void>((r) => (resetAll = r));
      let waiting = 0;
      auth.resolve = async (credentials) => {
        waiting++;
        await allReset;
        return resolve(credentials);
      };
      try {
        const clients = Array.from({ length: 20 }, () => netConnect(Number(port), hostname));
        for (const client of clients) {
          client.on('error', () => undefined);
          client.write(upgradeRequest(server.url, 'resetter', token));
        }
        await until(() => waiting === clients.length);
        expect(waiting).toBe(clients.length);
        for (const client of clients) client.resetAndDestroy();
        await new Promise((r) => setTimeout(r, 200));
        resetAll();
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        auth.resolve = resolve;
      }
      await healthy(server);
    });

    it('answers a garbage HTTP request line with 400, oversized headers with 431, and lives on', async () => {
      const rss = process.memoryUsage().rss;
      const garbage = (await rawExchange(server.url, '\u0000\u0001 GARBAGE \u00ff\r\n\r\n')).toString();
      expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(garbage.slice(garbage.indexOf('\r\n\r\n') + 4))).toMatchObject({
        success: false,
        code: 'INVALID_INPUT',
      });
      const { host } = new URL(server.url);
      const huge = (
        await rawExchange(
          server.url,
          `GET /health HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
        )
      ).toString();
      expect(huge).toMatch(/^HTTP\/1\.1 431 /);
      await Promise.all(
        Array.from({ length: 200 }, () => rawExchange(server.url, 'NOT HTTP AT ALL\r\n\r\n')),
      );
      reportRss('200 raw sockets sending a garbage request line', rss);
      await healthy(server);
    });
  });

  describe('order of frames', () => {
    it('sends welcome before the mail backlog, then backlog_done with its count, on connect and on resume', async () => {
      const token = await tokenFor(server, 'order-sender');
      const ids: number[] = [];
      for (const n of [1, 2, 3]) {
        const { body } = await callHttpTool(
          server.url,
          'send_message',
          { to: 'order-reader', content: { n } },
          { authorization: `Bearer ${token}` },
        );
        ids.push((body.message_ids as number[])[0] ?? -1);
      }
      const first = await open('order-reader');
      expect(first.frames.map((f) => f.type)).toEqual(['welcome', 'mail', 'mail', 'mail', 'backlog_done']);
      expect(first.frames[0]).toMatchObject({ agent_id: 'order-reader', resumed_after: null });
      expect(first.ofType('mail').map((f) => mailOf(f).id)).toEqual(ids);
      expect(first.ofType('backlog_done')[0]?.count).toBe(3);
      await first.close();

      const resumed = await open('order-reader', { after_id: ids[0] ?? 0 });
      expect(resumed.frames.map((f) => f.type)).toEqual(['welcome', 'mail', 'mail', 'backlog_done']);
      expect(resumed.frames[0]).toMatchObject({ resumed_after: ids[0] });
      expect(resumed.ofType('mail').map((f) => mailOf(f).id)).toEqual(ids.slice(1));
      expect(resumed.ofType('backlog_done')[0]?.count).toBe(2);
    });
  });

  describe('subscriptions', () => {
    it('lets one socket follow at most 100 sessions and answers the 101st subscribe with LIMIT_EXCEEDED', async () => {
      const sessionIds: string[] = [];
      for (let n = 0; n < 101; n++) sessionIds.push(await createSession('many-subs'));
      const socket = await open('many-subs');
      for (const id of sessionIds.slice(0, 100)) socket.send({ type: 'subscribe', session_id: id });
      await until(() => socket.ofType('subscribed').length === 100, 10_000);
      expect(socket.ofType('subscribed')).toHaveLength(100);

      socket.send({ type: 'subscribe', session_id: sessionIds[100] });
      const refused = await socket.next('error');
      expect(refused).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { limit: 100 } });
      expect(refused.error).toEqual(expect.stringContaining('unsubscribe'));

      // Resubscribing to a followed session is not a new one; after an unsubscribe there is room again.
      socket.send({ type: 'subscribe', session_id: sessionIds[0] });
      await socket.waitFor(
        (f) => f.type === 'subscribed' && f.session_id === sessionIds[0],
        5000,
        socket.frames.length,
      );
      socket.send({ type: 'unsubscribe', session_id: sessionIds[1] });
      await socket.next('unsubscribed');
      socket.send({ type: 'subscribe', session_id: sessionIds[100] });
      const ok = await socket.waitFor(
        (f) => f.type === 'subscribed' || f.type === 'error',
        5000,
        socket.frames.length,
      );
      expect(ok).toMatchObject({ type: 'subscribed', session_id: sessionIds[100] });
    });
  });

  describe('slow clients', () => {
    /** The server side of the socket opened last (in-process: used only to stop a bounded loop). */
    function serverSideOf(
      open: () => Promise<TestSocket>,
    ): Promise<{ socket: TestSocket; gaveUp: () => boolean }> {
      const clients = (server.app.http.websockets as unknown as { wss: { clients: Set<WebSocket> } }).wss
        .clients;
      const before = new Set(clients);
      return open().then((socket) => {
        const ws = [...clients].find((c) => !before.has(c));
        expect(ws).toBeDefined();
        return { socket, gaveUp: () => ws?.readyState !== ws?.OPEN };
      });
    }

    it('cuts off a client that never reads with 1013 (MAX_CLIENT_BUFFER_BYTES), alone, and it resumes without loss', async () => {
      const sessionId = await createSession('slow-writer');
      const { socket: slow, gaveUp } = await serverSideOf(() => open('never-reads'));
      const fast = await open('reads-everything');
      for (const socket of [slow, fast]) {
        socket.send({ type: 'subscribe', session_id: sessionId });
        await socket.next('subscribed');
      }
      const raw = (slow.ws as unknown as { _socket: Socket })._socket;
      raw.pause();

      const rss = process.memoryUsage().rss;
      const headers = { authorization: `Bearer ${await tokenFor(server, 'slow-writer')}` };
      const filler = 'y'.repeat(50_000);
      let sent = 0;
      while (sent < 1000 && !gaveUp()) {
        const { status } = await callHttpTool(
          server.url,
          'add_message',
          { session_id: sessionId, content: `${sent} ${filler}` },
          headers,
        );
        expect(status).toBe(200);
        sent++;
      }
      reportRss(`a client that never reads, cut off after ${sent} messages of 50 KB (64 KiB budget)`, rss);
      expect(gaveUp()).toBe(true);

      await until(() => fast.ofType('session_message').length >= sent, 10_000);
      const everything = fast
        .ofType('session_message')
        .map((f) => Number(messageOf(f).content.split(' ')[0]));
      expect(everything).toEqual(Array.from({ length: sent }, (_, i) => i));
      expect(fast.closeCode).toBeUndefined();

      raw.resume();
      await until(() => slow.closeCode !== undefined, 10_000);
      expect(slow.closeCode).toBe(1013);
      const got = slow.ofType('session_message').map(messageOf);
      const again = await open('never-reads');
      again.send({ type: 'subscribe', session_id: sessionId, after_id: got.at(-1)?.id ?? 0 });
      await again.next('subscribed', 10_000);
      const rest = again.ofType('session_message').map((f) => Number(messageOf(f).content.split(' ')[0]));
      expect([...got.map((m) => Number(m.content.split(' ')[0])), ...rest]).toEqual(everything);
    });

    it('cuts off a client whose live events held during a backlog read pass its budget, and it resumes without loss', async () => {
      const sessionId = await createSession('held-writer');
      const headers = { authorization: `Bearer ${await tokenFor(server, 'held-writer')}` };
      const post = async (content: string) => {
        const { status } = await callHttpTool(
          server.url,
          'add_message',
          { session_id: sessionId, content },
          headers,
        );
        expect(status).toBe(200);
      };
      for (const n of [0, 1, 2]) await post(`${n} backlog`);
      const live = await open('held-live');
      live.send({ type: 'subscribe', session_id: sessionId });
      await live.next('subscribed');

      // Hold the backlog read open while 20 messages of 10 KB are written: on a busy server a big
      // backlog takes that long; here the read is made to wait for the writes, so the test is exact.
      const messages = server.app.services.messages;
      const list = messages.list.bind(messages);
      let writing: Promise<void> | undefined;
      messages.list = async (...args: Parameters<typeof list>) => {
        if (writing === undefined && args[0].agentId === 'held-reader') {
          writing = (async () => {
            for (let n = 3; n < 23; n++) await post(`${n} ${'z'.repeat(10_000)}`);
          })();
          await writing;
        }
        return list(...args);
      };
      try {
        const reader = await open('held-reader');
        reader.send({ type: 'subscribe', session_id: sessionId, after_id: 0 });
        await until(() => reader.closeCode !== undefined, 10_000);
        expect(reader.closeCode).toBe(1013);
        await writing;
        const got = reader.ofType('session_message').map(messageOf);

        const again = await open('held-reader');
        again.send({ type: 'subscribe', session_id: sessionId, after_id: got.at(-1)?.id ?? 0 });
        await again.next('subscribed', 10_000);
        const all = [...got, ...again.ofType('session_message').map(messageOf)];
        expect(all.map((m) => Number(m.content.split(' ')[0]))).toEqual(
          Array.from({ length: 23 }, (_, i) => i),
        );
      } finally {
        messages.list = list;
      }
      await until(() => live.ofType('session_message').length >= 20);
      expect(live.ofType('session_message')).toHaveLength(20);
      expect(live.closeCode).toBeUndefined();
    });

    it('cuts off a client that never reads its mail with 1013, and ?after_id= resumes it without loss', async () => {
      const { socket: slow, gaveUp } = await serverSideOf(() => open('mail-never-reads'));
      const raw = (slow.ws as unknown as { _socket: Socket })._socket;
      raw.pause();
      const headers = { authorization: `Bearer ${await tokenFor(server, 'mail-writer')}` };
      const ids: number[] = [];
      while (ids.length < 1000 && !gaveUp()) {
        const { body } = await callHttpTool(
          server.url,
          'send_message',
          { to: 'mail-never-reads', content: `${ids.length} ${'m'.repeat(50_000)}` },
          headers,
        );
        ids.push((body.message_ids as number[])[0] ?? -1);
      }
      expect(gaveUp()).toBe(true);
      raw.resume();
      await until(() => slow.closeCode !== undefined, 10_000);
      expect(slow.closeCode).toBe(1013);
      const got = slow.ofType('mail').map((f) => mailOf(f).id);
      const again = await open('mail-never-reads', { after_id: got.at(-1) ?? 0 });
      expect([...got, ...again.ofType('mail').map((f) => mailOf(f).id)]).toEqual(ids);
    });
  });
});

describe('WebSocket rate limits', () => {
  let server: TestServer;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '10' });
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });
  afterAll(async () => server.cleanup());

  it('answers a flood of malformed and unknown frames with RATE_LIMITED error frames carrying retry_after', async () => {
    const token = await tokenFor(server, 'flooder');
    const socket = await TestSocket.open(server.url, 'flooder', { query: { token } });
    sockets.push(socket);
    await socket.waitFor((f) => f.type === 'backlog_done');
    const rss = process.memoryUsage().rss;
    const garbage = ['not json', '{"type":"dance"}', '{}', '[1,2,3]', '{"type":"ack","message_id":-1}'];
    for (let n = 0; n < 200; n++) socket.send(garbage[n % garbage.length]);
    await until(() => socket.ofType('error').length >= 200, 10_000);
    reportRss('200 malformed frames on one socket', rss);

    const errors = socket.ofType('error');
    expect(errors).toHaveLength(200);
    const worked = errors.filter((e) => e.code === 'INVALID_INPUT');
    const limited = errors.filter((e) => e.code === 'RATE_LIMITED');
    // The upgrade took one of the 10; the bucket refills at 1/s while the flood goes on.
    expect(worked.length).toBeLessThanOrEqual(15);
    expect(limited.length).toBe(200 - worked.length);
    expect(limited[0]?.retry_after).toEqual(expect.any(Number));
    expect(limited[0]?.retry_after as number).toBeGreaterThan(0);

    // A well-formed subscribe is limited the same way, and the socket stays open.
    socket.send({ type: 'subscribe', session_id: 'session_0000000000000000' });
    expect((await socket.next('error')).code).toBe('RATE_LIMITED');
    expect(socket.closeCode).toBeUndefined();
  });

  it('refuses an upgrade over the limit with 429, a Retry-After header and retry_after in the body', async () => {
    const token = await tokenFor(server, 'reconnector');
    let refused: RefusedUpgrade | undefined;
    for (let n = 0; n < 40 && refused === undefined; n++) {
      try {
        sockets.push(await TestSocket.open(server.url, 'reconnector', { query: { token } }));
      } catch (error) {
        refused = error as RefusedUpgrade;
      }
    }
    expect(refused?.status).toBe(429);
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused?.body).toMatchObject({
      success: false,
      code: 'RATE_LIMITED',
      retry_after: expect.any(Number),
    });
  });
});
