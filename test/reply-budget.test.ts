import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonBytes } from '../src/core/paging.js';
import { callTool, connectMcp } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

const BUDGET = 65_536;
const ITEM_CHARS = 10_000;
const MESSAGES = 60;

type Body = Record<string, unknown>;
interface Item {
  id: number;
}

const bytesOf = (items: unknown[]) => items.reduce<number>((n, item) => n + jsonBytes(item), 0);
const big = (label: string, chars = ITEM_CHARS) => `${label} ${'x'.repeat(chars)}`;

/** The items of one page fit the budget, or the page is a single item larger than it. */
function expectWithinBudget(items: unknown[]): void {
  expect(items.length).toBeGreaterThan(0);
  if (items.length > 1) expect(bytesOf(items)).toBeLessThanOrEqual(BUDGET);
}

describe('reply byte budget (MAX_REPLY_BYTES)', () => {
  let server: TestServer;
  let aliceToken: string;
  let alice: Client;
  const asAlice = () => ({ authorization: `Bearer ${aliceToken}` });

  async function http(name: string, args: unknown, headers: Record<string, string> = asAlice()) {
    const { status, body } = await callHttpTool(server.url, name, args, headers);
    expect(status, JSON.stringify(body).slice(0, 300)).toBe(200);
    return body;
  }

  /** Calls a tool page after page, passing next_cursor as `cursorArg`, until has_more is false. */
  async function follow(
    name: string,
    args: Body,
    cursorArg: string,
    itemsOf: (body: Body) => unknown[],
    headers?: Record<string, string>,
  ): Promise<{ pages: Body[]; items: unknown[] }> {
    const pages: Body[] = [];
    const items: unknown[] = [];
    let cursor: unknown;
    for (let guard = 0; guard < 500; guard++) {
      const body = await http(name, cursor === undefined ? args : { ...args, [cursorArg]: cursor }, headers);
      pages.push(body);
      items.push(...itemsOf(body));
      expectWithinBudget(itemsOf(body));
      if (body.has_more !== true) {
        expect(body.next_cursor).toBeNull();
        return { pages, items };
      }
      expect(body.next_cursor).not.toBeNull();
      cursor = body.next_cursor;
    }
    throw new Error(`${name} never ended`);
  }

  const messagesOf = (body: Body) => body.messages as Item[];
  const idsOf = (items: unknown[]) => (items as Item[]).map((m) => m.id);

  async function sessionWith(
    purpose: string,
    count: number,
    chars = ITEM_CHARS,
  ): Promise<[string, number[]]> {
    const sessionId = (await http('create_session', { purpose })).session_id as string;
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      ids.push(
        (await http('add_message', { session_id: sessionId, content: big(`budgetword ${i}`, chars) }))
          .message_id as number,
      );
    }
    return [sessionId, ids];
  }

  beforeAll(async () => {
    server = await startTestServer({ MAX_REPLY_BYTES: String(BUDGET) });
    aliceToken = await tokenFor(server, 'alice');
    alice = await connectMcp(server.url, asAlice());
  });

  afterAll(async () => {
    await alice.close();
    await server.cleanup();
  });

  describe('get_messages and the tools built on it', () => {
    let sessionId: string;
    let ids: number[];

    beforeAll(async () => {
      [sessionId, ids] = await sessionWith('budget', MESSAGES);
    });

    it('ends a limit-1000 page within the budget, with has_more, next_cursor and truncated_by_bytes', async () => {
      const body = await http('get_messages', { session_id: sessionId, limit: 1000 });
      const messages = messagesOf(body);
      expect(messages.length).toBeGreaterThan(1);
      expect(messages.length).toBeLessThan(MESSAGES);
      expect(bytesOf(messages)).toBeLessThanOrEqual(BUDGET);
      expect(body).toMatchObject({
        has_more: true,
        truncated_by_bytes: true,
        next_cursor: messages.at(-1)?.id,
        count: messages.length,
        total_count: MESSAGES,
      });
    });

    it('says truncated_by_bytes: false on a page that the limit ended', async () => {
      const body = await http('get_messages', { session_id: sessionId, limit: 2 });
      expect(body).toMatchObject({
        count: 2,
        has_more: true,
        truncated_by_bytes: false,
        next_cursor: ids[1],
      });
    });

    it('returns every message exactly once, in order, to a caller following next_cursor as after_id', async () => {
      const { pages, items } = await follow(
        'get_messages',
        { session_id: sessionId, limit: 1000 },
        'after_id',
        messagesOf,
      );
      expect(pages.length).toBeGreaterThan(1);
      expect(idsOf(items)).toEqual(ids);
    });

    it('continues an offset page with after_id = next_cursor, without loss or repeats', async () => {
      const first = await http('get_messages', { session_id: sessionId, limit: 1000, offset: 5 });
      expect(first.truncated_by_bytes).toBe(true);
      const rest = await follow(
        'get_messages',
        { session_id: sessionId, limit: 1000, after_id: first.next_cursor },
        'after_id',
        messagesOf,
      );
      expect(idsOf([...messagesOf(first), ...rest.items])).toEqual(ids.slice(5));
    });

    it('continues a before_id page with after_id = next_cursor and the same before_id', async () => {
      const before = ids[50]!;
      const { pages, items } = await follow(
        'get_messages',
        { session_id: sessionId, limit: 1000, before_id: before },
        'after_id',
        messagesOf,
      );
      expect(pages.length).toBeGreaterThan(1);
      expect(idsOf(items)).toEqual(ids.slice(0, 50));
    });

    it('pages over MCP the same way (the official SDK client)', async () => {
      const seen: number[] = [];
      let after: number | undefined;
      for (;;) {
        const { json } = await callTool(alice, 'get_messages', {
          session_id: sessionId,
          limit: 1000,
          ...(after === undefined ? {} : { after_id: after }),
        });
        const messages = json.messages as Item[];
        expectWithinBudget(messages);
        seen.push(...messages.map((m) => m.id));
        if (json.has_more !== true) break;
        after = json.next_cursor as number;
      }
      expect(seen).toEqual(ids);
    });

    it('bounds wait_for_messages when messages are already there', async () => {
      const body = await http('wait_for_messages', {
        session_id: sessionId,
        after_id: 0,
        limit: 1000,
        timeout_s: 1,
      });
      expect(body).toMatchObject({ timed_out: false, has_more: true, truncated_by_bytes: true });
      expectWithinBudget(messagesOf(body));
      expect(messagesOf(body)[0]?.id).toBe(ids[0]);
    });

    it('keeps the newest messages that fit in get_session, and says older ones were left out', async () => {
      const body = await http('get_session', { session_id: sessionId });
      const messages = messagesOf(body);
      expect(messages.length).toBeLessThan(50);
      expect(bytesOf(messages)).toBeLessThanOrEqual(BUDGET);
      expect(idsOf(messages)).toEqual(ids.slice(-messages.length));
      expect(body).toMatchObject({ message_count: MESSAGES, has_more: true, truncated_by_bytes: true });
    });

    it('keeps the newest messages that fit in the session:// resources', async () => {
      for (const uri of [`session://${sessionId}`, `session://${sessionId}/messages/500`]) {
        const result = await alice.readResource({ uri }, { cacheMode: 'bypass' });
        const text = (result.contents[0] as { text: string }).text;
        const body = JSON.parse(text) as Body;
        const messages = messagesOf(body);
        expect(messages.length, uri).toBeLessThan(MESSAGES);
        expect(bytesOf(messages), uri).toBeLessThanOrEqual(BUDGET);
        expect(idsOf(messages), uri).toEqual(ids.slice(-messages.length));
        expect(body, uri).toMatchObject({ has_more: true, truncated_by_bytes: true });
      }
    });

    it('pages search_by_sender back in time with before_id = next_cursor', async () => {
      const { pages, items } = await follow(
        'search_by_sender',
        { session_id: sessionId, sender: 'alice', limit: 1000 },
        'before_id',
        messagesOf,
      );
      expect(pages.length).toBeGreaterThan(1);
      expect(pages[0]).toMatchObject({ truncated_by_bytes: true, sender: 'alice' });
      // Each page is the newest that fit before the cursor, oldest first within the page.
      const pageIds = pages.map((p) => idsOf(messagesOf(p)));
      expect(pageIds.reverse().flat()).toEqual(ids);
      expect(items).toHaveLength(MESSAGES);
    });

    it('pages search_by_timerange forward with after_id = next_cursor', async () => {
      const { pages, items } = await follow(
        'search_by_timerange',
        {
          session_id: sessionId,
          start_time: '2000-01-01T00:00:00Z',
          end_time: '2100-01-01T00:00:00Z',
          limit: 1000,
        },
        'after_id',
        messagesOf,
      );
      expect(pages.length).toBeGreaterThan(1);
      expect(idsOf(items)).toEqual(ids);
    });

    it('pages search_context results with cursor = next_cursor, each result once', async () => {
      const resultsOf = (body: Body) => body.results as { message: Item; score: number }[];
      const { pages, items } = await follow(
        'search_context',
        { session_id: sessionId, query: 'budgetword', limit: 100 },
        'cursor',
        resultsOf,
      );
      expect(pages.length).toBeGreaterThan(1);
      expect(pages[0]).toMatchObject({ truncated_by_bytes: true });
      const found = (items as { message: Item }[]).map((r) => r.message.id);
      expect(new Set(found).size).toBe(found.length);
      expect([...found].sort((a, b) => a - b)).toEqual(ids);
    });
  });

  describe('mail, memory, audit, sessions and agents', () => {
    let bobToken: string;
    let mailIds: number[];
    const asBob = () => ({ authorization: `Bearer ${bobToken}` });

    beforeAll(async () => {
      bobToken = await tokenFor(server, 'bob');
      mailIds = [];
      for (let i = 0; i < 30; i++) {
        const sent = await http('send_message', { to: 'alice', content: big(`mail ${i}`) }, asBob());
        mailIds.push(...(sent.message_ids as number[]));
      }
    });

    it('pages get_inbox with after_id = next_cursor, each mail exactly once, in order', async () => {
      const { pages, items } = await follow('get_inbox', { limit: 1000 }, 'after_id', messagesOf);
      expect(pages.length).toBeGreaterThan(1);
      expect(pages[0]).toMatchObject({ truncated_by_bytes: true });
      expect(idsOf(items)).toEqual(mailIds);
    });

    it('bounds the inbox resource and says so', async () => {
      const result = await alice.readResource({ uri: 'agent://alice/inbox' }, { cacheMode: 'bypass' });
      const body = JSON.parse((result.contents[0] as { text: string }).text) as Body;
      expectWithinBudget(messagesOf(body));
      expect(body).toMatchObject({ has_more: true, truncated_by_bytes: true });
    });

    it('pages get_sent_messages with after_id = next_cursor', async () => {
      const { pages, items } = await follow(
        'get_sent_messages',
        { limit: 1000 },
        'after_id',
        messagesOf,
        asBob(),
      );
      expect(pages.length).toBeGreaterThan(1);
      expect(idsOf(items)).toEqual(mailIds);
    });

    it('pages list_memory with cursor = next_cursor, each entry once, in key order', async () => {
      const keys: string[] = [];
      for (let i = 0; i < 30; i++) {
        const key = `note-${String(i).padStart(2, '0')}`;
        keys.push(key);
        await http('set_memory', { key, value: big(key) });
      }
      const entriesOf = (body: Body) => body.entries as { key: string; value: string }[];
      const { pages, items } = await follow('list_memory', { limit: 1000 }, 'cursor', entriesOf);
      expect(pages.length).toBeGreaterThan(1);
      expect(pages[0]).toMatchObject({ truncated_by_bytes: true });
      expect((items as { key: string; value: string }[]).map((e) => e.key)).toEqual(keys);
      expect((items as { key: string; value: string }[])[3]?.value).toBe(big('note-03'));

      const result = await alice.readResource({ uri: 'agent://alice/memory' }, { cacheMode: 'bypass' });
      const resource = JSON.parse((result.contents[0] as { text: string }).text) as Body;
      expectWithinBudget(entriesOf(resource));
      expect(resource).toMatchObject({ has_more: true, truncated_by_bytes: true });
    });

    it('returns an item larger than the budget alone, then goes on', async () => {
      const agent = { 'x-api-key': server.apiKey, 'x-agent-id': 'hoarder' };
      const huge = 'h'.repeat(200_000);
      await http('set_memory', { key: 'a-huge', value: huge }, agent);
      await http('set_memory', { key: 'b-small', value: 'small' }, agent);
      const first = await http('list_memory', { limit: 10 }, agent);
      expect(first).toMatchObject({ count: 1, has_more: true, truncated_by_bytes: true });
      expect((first.entries as { value: string }[])[0]?.value).toBe(huge);
      const second = await http('list_memory', { limit: 10, cursor: first.next_cursor }, agent);
      expect(second).toMatchObject({ count: 1, has_more: false, next_cursor: null });

      const [sessionId, ids] = await sessionWith('one big message', 3, 90_000);
      const page = await http('get_messages', { session_id: sessionId, limit: 1000 });
      expect(page).toMatchObject({ count: 1, has_more: true, truncated_by_bytes: true, next_cursor: ids[0] });
      expect(messagesOf(page)[0]?.id).toBe(ids[0]);
      const session = await http('get_session', { session_id: sessionId });
      expect(idsOf(messagesOf(session))).toEqual([ids[2]]);
    });

    it('pages list_sessions and get_audit_log within the budget', async () => {
      const created: string[] = [];
      for (let i = 0; i < 80; i++) {
        const body = await http('create_session', { purpose: `${i} ${'p'.repeat(990)}` });
        created.push(body.session_id as string);
      }
      const sessionsOf = (body: Body) => body.sessions as { session_id: string }[];
      const listed = await follow('list_sessions', { limit: 200, created_by: 'alice' }, 'cursor', sessionsOf);
      expect(listed.pages.length).toBeGreaterThan(1);
      expect(listed.pages[0]).toMatchObject({ truncated_by_bytes: true });
      const listedIds = (listed.items as { session_id: string }[]).map((s) => s.session_id);
      expect(new Set(listedIds).size).toBe(listedIds.length);
      expect(listedIds).toEqual(expect.arrayContaining(created));

      const adminToken = await tokenFor(server, 'root', { admin: true });
      const entriesOf = (body: Body) => body.entries as Item[];
      const audit = await follow(
        'get_audit_log',
        { agent_id: 'alice', limit: 1000 },
        'before_id',
        entriesOf,
        { authorization: `Bearer ${adminToken}` },
      );
      expect(audit.pages.length).toBeGreaterThan(1);
      expect(audit.pages[0]).toMatchObject({ truncated_by_bytes: true });
      const auditIds = idsOf(audit.items);
      expect(auditIds).toEqual([...auditIds].sort((a, b) => b - a));
      expect(new Set(auditIds).size).toBe(auditIds.length);
    });

    it('pages list_agents with cursor = next_cursor, each agent once', async () => {
      const capabilities = Array.from({ length: 100 }, (_, i) => `${i}${'c'.repeat(95)}`);
      const names: string[] = [];
      for (let i = 0; i < 10; i++) {
        const agentId = `crowd-${i}`;
        names.push(agentId);
        await http('register_agent', { capabilities }, { 'x-api-key': server.apiKey, 'x-agent-id': agentId });
      }
      const agentsOf = (body: Body) => body.agents as { agent_id: string }[];
      const { pages, items } = await follow('list_agents', {}, 'cursor', agentsOf);
      expect(pages.length).toBeGreaterThan(1);
      expect(pages[0]).toMatchObject({ truncated_by_bytes: true });
      const listed = (items as { agent_id: string }[]).map((a) => a.agent_id);
      expect(new Set(listed).size).toBe(listed.length);
      expect(listed).toEqual(expect.arrayContaining(names));
      expect(pages[0]?.total).toBe(listed.length);
    });
  });
});

describe('jsonBytes', () => {
  it('equals the UTF-8 length of JSON.stringify for text that needs escaping or is not ASCII', () => {
    const samples: unknown[] = [
      'plain',
      'quote " and back\\slash',
      'control \u0000\u0001\n\t\u001f',
      'é ü 中文 😀 \u2028',
      'lone \ud800 high and \udc00 low, pair \ud83d\ude00',
      { a: [1, -2.5, 1e21, true, false, null, { 'k"ey': 'v' }], b: {}, c: [] },
      [],
      12345678901234,
    ];
    for (const sample of samples) {
      expect(jsonBytes(sample), JSON.stringify(sample)).toBe(Buffer.byteLength(JSON.stringify(sample)));
    }
  });
});
