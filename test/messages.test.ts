import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectMcp } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

const UNKNOWN_SESSION = 'session_0000000000000000';
const MAX_CONTENT = 1000;

interface Message {
  id: number;
  session_id: string;
  sender: string;
  content: string;
  parent_message_id: number | null;
}

interface Page {
  success: boolean;
  messages: Message[];
  count: number;
  total_count: number;
  has_more: boolean;
  next_cursor: number | null;
}

describe('messages', () => {
  let server: TestServer;
  let aliceToken: string;
  let bobToken: string;
  let alice: Client;

  const asAlice = () => ({ authorization: `Bearer ${aliceToken}` });
  const asBob = () => ({ authorization: `Bearer ${bobToken}` });

  /** A tool call over HTTP as alice (or another agent's headers). */
  async function http(name: string, args: unknown, headers = asAlice()) {
    return callHttpTool(server.url, name, args, headers);
  }

  async function newSession(purpose: string): Promise<string> {
    const { status, body } = await http('create_session', { purpose });
    expect(status).toBe(200);
    return body.session_id as string;
  }

  async function add(
    sessionId: string,
    content: string,
    extra: Record<string, unknown> = {},
    headers = asAlice(),
  ) {
    const { status, body } = await http('add_message', { session_id: sessionId, content, ...extra }, headers);
    expect(status, JSON.stringify(body)).toBe(200);
    return body.message_id as number;
  }

  async function page(args: Record<string, unknown>): Promise<Page> {
    const { status, body } = await http('get_messages', args);
    expect(status, JSON.stringify(body)).toBe(200);
    return body as unknown as Page;
  }

  /** How many messages alice can see in the session (they are all public here). */
  async function countOf(sessionId: string): Promise<number> {
    return (await page({ session_id: sessionId, limit: 1 })).total_count;
  }

  beforeAll(async () => {
    server = await startTestServer({ MAX_CONTENT_LENGTH: String(MAX_CONTENT) });
    aliceToken = await tokenFor(server, 'alice');
    bobToken = await tokenFor(server, 'bob');
    alice = await connectMcp(server.url, { authorization: `Bearer ${aliceToken}` });
  });

  afterAll(async () => {
    await alice.close();
    await server.cleanup();
  });

  describe('reading in pages', () => {
    let sessionId: string;
    let ids: number[];

    beforeAll(async () => {
      sessionId = await newSession('paging');
      ids = [];
      for (let i = 0; i < 25; i++) ids.push(await add(sessionId, `message ${i}`));
    });

    it('gives every message ids that increase in write order', () => {
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1] as number);
    });

    it('walks the whole history with after_id/next_cursor, each message exactly once and in order', async () => {
      const seen: Message[] = [];
      const hasMore: boolean[] = [];
      let cursor = 0;
      for (let guard = 0; guard < 10; guard++) {
        const p = await page({ session_id: sessionId, after_id: cursor, limit: 10 });
        seen.push(...p.messages);
        hasMore.push(p.has_more);
        expect(p.count).toBe(p.messages.length);
        if (!p.has_more) {
          expect(p.next_cursor).toBeNull();
          break;
        }
        expect(p.next_cursor).toBe(p.messages.at(-1)?.id);
        cursor = p.next_cursor as number;
      }
      expect(hasMore).toEqual([true, true, false]);
      expect(seen.map((m) => m.id)).toEqual(ids);
      expect(seen.map((m) => m.content)).toEqual(ids.map((_, i) => `message ${i}`));
    });

    it('returns only what is newer than after_id (reading what is new since last look)', async () => {
      const p = await page({ session_id: sessionId, after_id: ids[22] });
      expect(p.messages.map((m) => m.id)).toEqual(ids.slice(23));
      expect(p.has_more).toBe(false);
      const none = await page({ session_id: sessionId, after_id: ids[24] });
      expect(none.messages).toEqual([]);
      expect(none.has_more).toBe(false);
      expect(none.next_cursor).toBeNull();
    });

    it('returns only older messages with before_id, and a window with after_id and before_id', async () => {
      const before = await page({ session_id: sessionId, before_id: ids[10] });
      expect(before.messages.map((m) => m.id)).toEqual(ids.slice(0, 10));
      const window = await page({ session_id: sessionId, after_id: ids[4], before_id: ids[10] });
      expect(window.messages.map((m) => m.id)).toEqual(ids.slice(5, 10));
    });

    it('skips with offset', async () => {
      const middle = await page({ session_id: sessionId, offset: 5, limit: 5 });
      expect(middle.messages.map((m) => m.id)).toEqual(ids.slice(5, 10));
      expect(middle.has_more).toBe(true);
      const tail = await page({ session_id: sessionId, offset: 20, limit: 10 });
      expect(tail.messages.map((m) => m.id)).toEqual(ids.slice(20));
      expect(tail.has_more).toBe(false);
      const past = await page({ session_id: sessionId, offset: 100 });
      expect(past.messages).toEqual([]);
    });

    it('reports total_count and has_more', async () => {
      const first = await page({ session_id: sessionId, limit: 10 });
      expect(first).toMatchObject({ count: 10, total_count: 25, has_more: true });
      const all = await page({ session_id: sessionId, limit: 25 });
      expect(all).toMatchObject({ count: 25, total_count: 25, has_more: false, next_cursor: null });
    });
  });

  it('returns a thread (root and its replies) with thread_id', async () => {
    const sessionId = await newSession('threads');
    const root = await add(sessionId, 'root question');
    await add(sessionId, 'unrelated');
    const reply1 = await add(sessionId, 'first answer', { parent_message_id: root }, asBob());
    const other = await add(sessionId, 'another root');
    await add(sessionId, 'reply elsewhere', { parent_message_id: other });
    const reply2 = await add(sessionId, 'second answer', { parent_message_id: root });

    const thread = await page({ session_id: sessionId, thread_id: root });
    expect(thread.messages.map((m) => m.id)).toEqual([root, reply1, reply2]);
    expect(thread.messages.slice(1).every((m) => m.parent_message_id === root)).toBe(true);
  });

  it('refuses a reply to a message that does not exist and stores nothing', async () => {
    const sessionId = await newSession('bad parent');
    await add(sessionId, 'only message');
    const { status, body } = await http('add_message', {
      session_id: sessionId,
      content: 'orphan',
      parent_message_id: 999_999_999,
    });
    expect(status).toBe(404);
    expect(body.code).toBe('MESSAGE_NOT_FOUND');
    expect(await countOf(sessionId)).toBe(1);
  });

  it('filters by sender', async () => {
    const sessionId = await newSession('senders');
    await add(sessionId, 'a1');
    const b1 = await add(sessionId, 'b1', {}, asBob());
    await add(sessionId, 'a2');
    const b2 = await add(sessionId, 'b2', {}, asBob());
    const bobs = await page({ session_id: sessionId, sender: 'bob' });
    expect(bobs.messages.map((m) => m.id)).toEqual([b1, b2]);
    expect(bobs.messages.every((m) => m.sender === 'bob')).toBe(true);
    expect(bobs.total_count).toBe(2);
  });

  it('answers get_messages on an unknown session with SESSION_NOT_FOUND (404 over HTTP, isError over MCP)', async () => {
    const { status, body } = await http('get_messages', { session_id: UNKNOWN_SESSION });
    expect(status).toBe(404);
    expect(body).toMatchObject({ success: false, code: 'SESSION_NOT_FOUND', error: expect.any(String) });
    const mcp = await callTool(alice, 'get_messages', { session_id: UNKNOWN_SESSION });
    expect(mcp.isError).toBe(true);
    expect(mcp.json.code).toBe('SESSION_NOT_FOUND');
  });

  describe('bad input is refused with a clear code and stores nothing', () => {
    let sessionId: string;
    beforeAll(async () => {
      sessionId = await newSession('bad input');
      await add(sessionId, 'the only good message');
    });

    /** Runs `attempt` and checks the session still holds exactly what it held before. */
    async function storesNothing(attempt: () => Promise<void>): Promise<void> {
      const before = await countOf(sessionId);
      await attempt();
      expect(await countOf(sessionId)).toBe(before);
    }

    it('refuses a write to an unknown session with SESSION_NOT_FOUND (404) and does not create it', async () => {
      await storesNothing(async () => {
        const { status, body } = await http('add_message', {
          session_id: UNKNOWN_SESSION,
          content: 'hello?',
        });
        expect(status).toBe(404);
        expect(body.code).toBe('SESSION_NOT_FOUND');
      });
      const { status } = await http('get_messages', { session_id: UNKNOWN_SESSION });
      expect(status).toBe(404);
    });

    it('refuses content over MAX_CONTENT_LENGTH with PAYLOAD_TOO_LARGE (413) and accepts it at the limit', async () => {
      await storesNothing(async () => {
        const { status, body } = await http('add_message', {
          session_id: sessionId,
          content: 'x'.repeat(MAX_CONTENT + 1),
        });
        expect(status).toBe(413);
        expect(body.code).toBe('PAYLOAD_TOO_LARGE');
        const mcp = await callTool(alice, 'add_message', {
          session_id: sessionId,
          content: 'y'.repeat(MAX_CONTENT + 1),
        });
        expect(mcp.isError).toBe(true);
        expect(mcp.json.code).toBe('PAYLOAD_TOO_LARGE');
      });
      const before = await countOf(sessionId);
      await add(sessionId, 'z'.repeat(MAX_CONTENT));
      expect(await countOf(sessionId)).toBe(before + 1);
    });

    it('answers a malformed JSON body with 400 INVALID_INPUT', async () => {
      await storesNothing(async () => {
        const { status, body } = await http('add_message', `{"session_id": "${sessionId}", "content": "x"`);
        expect(status).toBe(400);
        expect(body).toMatchObject({ success: false, code: 'INVALID_INPUT', error: expect.any(String) });
      });
    });

    it('answers a JSON body that is not an object with 400 INVALID_INPUT', async () => {
      await storesNothing(async () => {
        for (const text of ['[1,2,3]', '"just a string"', '42', 'null']) {
          const { status, body } = await http('add_message', text);
          expect(status, text).toBe(400);
          expect(body.code, text).toBe('INVALID_INPUT');
        }
      });
    });

    const wrongTypes: Array<[string, string, (sessionId: string) => Record<string, unknown>, string]> = [
      ['a number as content', 'add_message', (s) => ({ session_id: s, content: 123 }), 'content'],
      ['a string as limit', 'get_messages', (s) => ({ session_id: s, limit: 'ten' }), 'limit'],
      [
        'an unknown visibility',
        'add_message',
        (s) => ({ session_id: s, content: 'x', visibility: 'secret' }),
        'visibility',
      ],
      ['a misspelt argument name', 'add_message', (s) => ({ sesion_id: s, content: 'x' }), 'sesion_id'],
      ['empty content', 'add_message', (s) => ({ session_id: s, content: '' }), 'content'],
      ['a limit over 1000', 'get_messages', (s) => ({ session_id: s, limit: 1001 }), 'limit'],
      [
        'a malformed session id',
        'add_message',
        () => ({ session_id: 'not-a-session', content: 'x' }),
        'session_id',
      ],
      [
        'a parent id that is not an integer',
        'add_message',
        (s) => ({ session_id: s, content: 'x', parent_message_id: 'one' }),
        'parent_message_id',
      ],
    ];

    for (const [label, tool, args, argument] of wrongTypes) {
      it(`answers ${label} over HTTP with 400 INVALID_INPUT naming "${argument}"`, async () => {
        await storesNothing(async () => {
          const { status, body } = await http(tool, args(sessionId));
          expect(status).toBe(400);
          expect(body).toMatchObject({ success: false, code: 'INVALID_INPUT' });
          expect(body.error).toEqual(expect.stringContaining(argument));
        });
      });

      it(`answers ${label} over MCP with an error result, not a success`, async () => {
        await storesNothing(async () => {
          let outcome: { isError: boolean; text: string };
          try {
            const result = await alice.callTool({ name: tool, arguments: args(sessionId) });
            const first = (result.content as Array<{ type: string; text?: string }>)[0];
            outcome = { isError: result.isError === true, text: first?.text ?? '' };
          } catch (error) {
            // A JSON-RPC error (e.g. invalid params) is also an acceptable refusal.
            outcome = { isError: true, text: (error as Error).message };
          }
          expect(outcome.isError).toBe(true);
          expect(outcome.text).toContain(argument);
          expect(outcome.text).not.toMatch(/"success":\s*true/);
        });
      });
    }

    it('refuses writes to an archived session with CONFLICT (409)', async () => {
      const archived = await newSession('to be archived');
      await add(archived, 'before archiving');
      const updated = await http('update_session', { session_id: archived, status: 'archived' });
      expect(updated.status).toBe(200);
      const before = await countOf(archived);
      const { status, body } = await http('add_message', { session_id: archived, content: 'too late' });
      expect(status).toBe(409);
      expect(body.code).toBe('CONFLICT');
      const mcp = await callTool(alice, 'add_message', { session_id: archived, content: 'too late (mcp)' });
      expect(mcp.isError).toBe(true);
      expect(mcp.json.code).toBe('CONFLICT');
      expect(await countOf(archived)).toBe(before);
      // Reading it is still fine.
      const read = await page({ session_id: archived });
      expect(read.messages.map((m) => m.content)).toEqual(['before archiving']);
    });
  });

  describe('HTTP and MCP give the same result shapes', () => {
    const sortedKeys = (o: unknown) => Object.keys(o as object).sort();

    it('for create_session', async () => {
      const viaHttp = await http('create_session', { purpose: 'shape http', metadata: { a: 1 } });
      const viaMcp = await callTool(alice, 'create_session', { purpose: 'shape mcp', metadata: { a: 1 } });
      expect(viaHttp.status).toBe(200);
      expect(viaMcp.isError).toBe(false);
      expect(sortedKeys(viaMcp.json)).toEqual(sortedKeys(viaHttp.body));
      expect(viaHttp.body).toMatchObject({
        success: true,
        session_id: expect.stringMatching(/^session_[0-9a-f]{16}$/),
        created_by: 'alice',
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
    });

    it('for add_message', async () => {
      const sessionId = await newSession('shape add');
      const viaHttp = await http('add_message', { session_id: sessionId, content: 'via http' });
      const viaMcp = await callTool(alice, 'add_message', { session_id: sessionId, content: 'via mcp' });
      expect(sortedKeys(viaMcp.json)).toEqual(sortedKeys(viaHttp.body));
      expect(viaHttp.body).toMatchObject({
        success: true,
        message_id: expect.any(Number),
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      expect(viaMcp.json.message_id).toBe((viaHttp.body.message_id as number) + 1);
    });

    it('for get_messages (identical bodies, full message shape)', async () => {
      const sessionId = await newSession('shape get');
      await add(sessionId, 'one', { metadata: { tag: 'x' }, message_type: 'finding' });
      await add(sessionId, 'two', { visibility: 'private' });
      const viaHttp = await http('get_messages', { session_id: sessionId });
      const viaMcp = await callTool(alice, 'get_messages', { session_id: sessionId });
      expect(viaMcp.json).toEqual(viaHttp.body);
      const message = (viaHttp.body.messages as Message[])[0];
      expect(sortedKeys(message)).toEqual(
        [
          'content',
          'id',
          'message_type',
          'metadata',
          'parent_message_id',
          'sender',
          'sender_type',
          'session_id',
          'timestamp',
          'visibility',
        ].sort(),
      );
      expect(message).toMatchObject({
        content: 'one',
        sender: 'alice',
        visibility: 'public',
        message_type: 'finding',
        metadata: { tag: 'x' },
        parent_message_id: null,
      });
    });

    it('for a failure (same code and body)', async () => {
      const viaHttp = await http('get_messages', { session_id: UNKNOWN_SESSION });
      const viaMcp = await callTool(alice, 'get_messages', { session_id: UNKNOWN_SESSION });
      expect(viaMcp.json).toEqual(viaHttp.body);
    });
  });

  it('answers an unknown tool name over HTTP with 404 NOT_FOUND', async () => {
    const { status, body } = await http('no_such_tool', {});
    expect(status).toBe(404);
    expect(body).toMatchObject({
      success: false,
      code: 'NOT_FOUND',
      error: expect.stringContaining('no_such_tool'),
    });
  });
});
