import type { Client } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectStdio } from './helpers/cli.js';
import { callTool } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { TestSocket, type WsFrame } from './helpers/ws-client.js';

const N = 30;
/** Small pages, so get_messages paging crosses several page boundaries. */
const PAGE = 7;

type Item = { id: number; content: unknown };
const itemOf = (f: WsFrame) => (f.message ?? f.mail) as Item;

describe('a client resuming from any cursor, after a server restart too, gets every later change once and in order', () => {
  let server: TestServer;
  let sessionId: string;
  /** Every message id and mail id written, in the order written (ids are commit-ordered). */
  const messageIds: number[] = [];
  const mailIds: number[] = [];
  const sockets: TestSocket[] = [];
  const tokens = new Map<string, string>();
  /** A `stdio` process on the same file: its commits reach the server by the cross-process poll. */
  let stdio: Client;

  async function token(agentId: string): Promise<string> {
    let t = tokens.get(agentId);
    if (t === undefined) tokens.set(agentId, (t = await tokenFor(server, agentId)));
    return t;
  }
  const bearer = async (agentId: string) => ({ authorization: `Bearer ${await token(agentId)}` });
  const after = (ids: number[], cursor: number) => ids.filter((id) => id > cursor);

  /** A tool call that writes, as rs-alice over HTTP or as rs-stdio in the stdio process. */
  async function write(via: 'http' | 'stdio', name: string, args: Record<string, unknown>) {
    if (via === 'stdio') {
      const { json } = await callTool(stdio, name, args);
      expect(json.success).toBe(true);
      return json;
    }
    const { status, body } = await callHttpTool(server.url, name, args, await bearer('rs-alice'));
    expect(status).toBe(200);
    return body;
  }
  async function addMessage(content: string, via: 'http' | 'stdio' = 'http'): Promise<void> {
    const body = await write(via, 'add_message', { session_id: sessionId, content });
    messageIds.push(body.message_id as number);
  }
  async function sendMail(content: string, via: 'http' | 'stdio' = 'http'): Promise<void> {
    const body = await write(via, 'send_message', { to: 'rs-bob', content });
    mailIds.push((body.message_ids as number[])[0]!);
  }

  /** Every message after `cursor` by get_messages, following next_cursor page by page. */
  async function pageMessages(cursor: number): Promise<number[]> {
    const ids: number[] = [];
    let afterId: number | null = cursor;
    while (afterId !== null) {
      const { body } = await callHttpTool(
        server.url,
        'get_messages',
        { session_id: sessionId, after_id: afterId, limit: PAGE },
        await bearer('rs-bob'),
      );
      ids.push(...(body.messages as Item[]).map((m) => m.id));
      afterId = body.has_more === true ? (body.next_cursor as number) : null;
    }
    return ids;
  }

  /** bob's socket resuming mail with ?after_id=, once its backlog is done. */
  async function resumeMail(cursor: number): Promise<TestSocket> {
    const socket = await TestSocket.open(server.url, 'rs-bob', {
      query: { token: await token('rs-bob'), after_id: cursor },
    });
    sockets.push(socket);
    await socket.waitFor((f) => f.type === 'backlog_done');
    return socket;
  }

  /** carol's socket subscribed to the session from `cursor`: the backlog comes before `subscribed`. */
  async function resumeSession(cursor: number): Promise<TestSocket> {
    const socket = await TestSocket.open(server.url, 'rs-carol', {
      query: { token: await token('rs-carol') },
    });
    sockets.push(socket);
    await socket.waitFor((f) => f.type === 'backlog_done');
    socket.send({ type: 'subscribe', session_id: sessionId, after_id: cursor });
    await socket.waitFor((f) => f.type === 'subscribed');
    return socket;
  }

  /** The three ways of resuming, each from its own cursor, give exactly what came after it. */
  async function expectResumes(messageCursor: number, mailCursor: number): Promise<void> {
    const mail = await resumeMail(mailCursor);
    expect(mail.ofType('mail').map((f) => itemOf(f).id)).toEqual(after(mailIds, mailCursor));
    expect(mail.ofType('backlog_done')[0]?.count).toBe(after(mailIds, mailCursor).length);

    const session = await resumeSession(messageCursor);
    expect(session.ofType('session_message').map((f) => itemOf(f).id)).toEqual(
      after(messageIds, messageCursor),
    );
    expect(await pageMessages(messageCursor)).toEqual(after(messageIds, messageCursor));
  }

  beforeAll(async () => {
    server = await startTestServer();
    stdio = (
      await connectStdio(server.dataDir, 'rs-stdio', {
        RATE_LIMIT_PER_SECOND: '100000',
        RATE_LIMIT_BURST: '100000',
      })
    ).client;
    const { body } = await callHttpTool(
      server.url,
      'create_session',
      { purpose: 'resume' },
      await bearer('rs-alice'),
    );
    sessionId = body.session_id as string;
    for (let n = 1; n <= N; n++) {
      await addMessage(`m${n}`);
      await sendMail(`mail ${n}`);
    }
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await stdio?.close();
    await server?.cleanup();
  });

  it('the ids written are increasing, so "in order" means increasing ids', () => {
    expect(messageIds).toHaveLength(N);
    expect(mailIds).toHaveLength(N);
    expect([...messageIds].sort((a, b) => a - b)).toEqual(messageIds);
    expect([...mailIds].sort((a, b) => a - b)).toEqual(mailIds);
  });

  it.each([
    ['the start', 0],
    ['the middle', Math.floor(N / 2) - 1],
    ['the last item', N - 1],
  ])(
    'from %s, WebSocket mail, WebSocket session backlog and get_messages paging give every later item once, in order',
    async (_, index) => {
      const messageCursor = index === 0 ? 0 : messageIds[index]!;
      const mailCursor = index === 0 ? 0 : mailIds[index]!;
      await expectResumes(messageCursor, mailCursor);
    },
  );

  it('after a restart on the same data directory, a client resuming from a pre-restart cursor while writes go on misses and repeats nothing', async () => {
    const messageCursor = messageIds[9]!;
    const mailCursor = mailIds[9]!;
    await server.stop();
    server = await startTestServer({}, server.dataDir);
    tokens.clear();

    // The stdio process writes on while clients resume, several times over. The restarted server
    // hears of its commits by its poll, so a backlog read often holds a write whose live event comes later.
    let written = 0;
    const writing = (async () => {
      for (let n = 1; n <= 30; n++) {
        await Promise.all([addMessage(`live m${n}`, 'stdio'), sendMail(`live mail ${n}`, 'stdio')]);
        written = n;
      }
    })();
    const resumed: Array<[TestSocket, TestSocket]> = [];
    for (const round of [3, 10, 20]) {
      while (written < round) await new Promise((r) => setTimeout(r, 5));
      resumed.push(await Promise.all([resumeMail(mailCursor), resumeSession(messageCursor)]));
    }
    await writing;
    await addMessage('end');
    await sendMail('end');

    for (const [mail, session] of resumed) {
      await mail.waitFor((f) => f.type === 'mail' && itemOf(f).id === mailIds.at(-1));
      await session.waitFor((f) => f.type === 'session_message' && itemOf(f).id === messageIds.at(-1));
      expect(mail.ofType('mail').map((f) => itemOf(f).id)).toEqual(after(mailIds, mailCursor));
      expect(session.ofType('session_message').map((f) => itemOf(f).id)).toEqual(
        after(messageIds, messageCursor),
      );
    }
    expect(await pageMessages(messageCursor)).toEqual(after(messageIds, messageCursor));
  });

  it.each([
    ['a pre-restart cursor', () => [messageIds[4]!, mailIds[4]!]],
    ['a post-restart cursor', () => [messageIds[N + 5]!, mailIds[N + 5]!]],
    ['the last item', () => [messageIds.at(-1)!, mailIds.at(-1)!]],
  ])('after the restart, resuming from %s gives every later item once, in order', async (_, cursors) => {
    const [messageCursor, mailCursor] = cursors();
    await expectResumes(messageCursor!, mailCursor!);
  });
});
