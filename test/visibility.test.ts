import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectMcp, type ToolJson } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

/**
 * SPEC §4: the visibility rule on every read path. One session holds one message of each
 * visibility; four readers (the sender, an agent of the same type, one of another type, an admin)
 * must each see exactly what the rule allows, whichever tool, resource or surface they read through.
 */

type Kind = 'public' | 'private' | 'agent_only' | 'admin_only';
type Reader = 'alice' | 'bob' | 'carol' | 'admin';

const KINDS: readonly Kind[] = ['public', 'private', 'agent_only', 'admin_only'];
const READERS: readonly Reader[] = ['alice', 'bob', 'carol', 'admin'];

/** The word every message contains, for searches. */
const WORD = 'pelican';

const CONTENT: Record<Kind, string> = {
  public: `alice public ${WORD} report for everyone`,
  private: `alice private ${WORD} note to herself`,
  agent_only: `alice agent_only ${WORD} plan for claude agents`,
  admin_only: `root admin_only ${WORD} audit remark`,
};

/** What each reader may see (SPEC §4): alice and bob are "claude", carol is "cursor". */
const EXPECTED: Record<Reader, readonly Kind[]> = {
  alice: ['public', 'private', 'agent_only'],
  bob: ['public', 'agent_only'],
  carol: ['public'],
  admin: ['public', 'private', 'agent_only', 'admin_only'],
};

interface Message {
  id: number;
  sender: string;
  visibility: string;
  content: string;
}

let server: TestServer;
const tokens = {} as Record<Reader, string>;
const clients = {} as Record<Reader, Client>;
let sessionId: string;
const ids = {} as Record<Kind, number>;
let missingId: number;
let startTime: string;
let endTime: string;

const expectedIds = (reader: Reader): number[] => EXPECTED[reader].map((k) => ids[k]);
const hiddenKinds = (reader: Reader): Kind[] => KINDS.filter((k) => !EXPECTED[reader].includes(k));
const idsOf = (messages: unknown): number[] => (messages as Message[]).map((m) => m.id);
const sorted = (values: number[]): number[] => [...values].sort((a, b) => a - b);
const bearer = (reader: Reader) => ({ authorization: `Bearer ${tokens[reader]}` });

async function mcp(reader: Reader, name: string, args: Record<string, unknown>): Promise<ToolJson> {
  return (await callTool(clients[reader], name, args)).json;
}

async function ok(reader: Reader, name: string, args: Record<string, unknown>): Promise<ToolJson> {
  const { json, isError } = await callTool(clients[reader], name, args);
  expect(json.success, `${name} as ${reader}: ${JSON.stringify(json)}`).toBe(true);
  expect(isError).toBe(false);
  return json;
}

async function readJson(reader: Reader, uri: string): Promise<Record<string, unknown>> {
  const result = await clients[reader].readResource({ uri }, { cacheMode: 'bypass' });
  const first = result.contents[0];
  if (first === undefined || !('text' in first)) throw new Error(`no text content for ${uri}`);
  return JSON.parse(first.text) as Record<string, unknown>;
}

/** A result without the fields that measure time rather than state. */
function withoutTiming(body: Record<string, unknown>): Record<string, unknown> {
  const { search_time_ms: _searchTime, ...rest } = body;
  return rest;
}

/** Per-visibility counts with absent keys read as zero. */
const countsOf = (counts: unknown): Record<Kind, number> =>
  Object.fromEntries(KINDS.map((k) => [k, (counts as Record<string, number>)[k] ?? 0])) as Record<
    Kind,
    number
  >;

const expectedCounts = (reader: Reader): Record<Kind, number> =>
  Object.fromEntries(KINDS.map((k) => [k, EXPECTED[reader].includes(k) ? 1 : 0])) as Record<Kind, number>;

beforeAll(async () => {
  server = await startTestServer();
  tokens.alice = await tokenFor(server, 'alice', { agentType: 'claude' });
  tokens.bob = await tokenFor(server, 'bob', { agentType: 'claude' });
  tokens.carol = await tokenFor(server, 'carol', { agentType: 'cursor' });
  tokens.admin = await tokenFor(server, 'root', { admin: true });
  for (const reader of READERS) clients[reader] = await connectMcp(server.url, bearer(reader));

  startTime = new Date(Date.now() - 60_000).toISOString();
  const created = await ok('alice', 'create_session', { purpose: 'visibility matrix' });
  sessionId = created.session_id as string;
  for (const kind of ['public', 'private', 'agent_only'] as const) {
    const added = await ok('alice', 'add_message', {
      session_id: sessionId,
      content: CONTENT[kind],
      visibility: kind,
    });
    ids[kind] = added.message_id as number;
  }
  const adminAdded = await ok('admin', 'add_message', {
    session_id: sessionId,
    content: CONTENT.admin_only,
    visibility: 'admin_only',
  });
  ids.admin_only = adminAdded.message_id as number;
  missingId = ids.admin_only + 100_000;
  endTime = new Date(Date.now() + 60_000).toISOString();
});

afterAll(async () => {
  await Promise.allSettled(READERS.map((r) => clients[r]?.close()));
  await server?.cleanup();
});

describe('the visibility rule on every read path (MCP)', () => {
  it('the four messages were stored in order with the sender and type of their writer', async () => {
    const { messages } = await ok('admin', 'get_messages', { session_id: sessionId });
    expect(messages).toMatchObject([
      { id: ids.public, sender: 'alice', sender_type: 'claude', visibility: 'public' },
      { id: ids.private, sender: 'alice', sender_type: 'claude', visibility: 'private' },
      { id: ids.agent_only, sender: 'alice', sender_type: 'claude', visibility: 'agent_only' },
      { id: ids.admin_only, sender: 'root', visibility: 'admin_only' },
    ]);
  });

  it.each(READERS)('get_messages shows %s exactly the messages the rule allows', async (reader) => {
    const page = await ok(reader, 'get_messages', { session_id: sessionId });
    expect(idsOf(page.messages)).toEqual(expectedIds(reader));
    expect(page.count).toBe(EXPECTED[reader].length);
    expect(page.total_count).toBe(EXPECTED[reader].length);
    expect(page.has_more).toBe(false);
    for (const m of page.messages as Message[]) {
      const kind = KINDS.find((k) => ids[k] === m.id);
      expect(kind).toBeDefined();
      expect(m.content).toBe(CONTENT[kind as Kind]);
    }
  });

  it.each(READERS)('get_messages pages over only the messages %s may see', async (reader) => {
    const first = await ok(reader, 'get_messages', { session_id: sessionId, limit: 1 });
    expect(idsOf(first.messages)).toEqual(expectedIds(reader).slice(0, 1));
    expect(first.total_count).toBe(EXPECTED[reader].length);
    expect(first.has_more).toBe(EXPECTED[reader].length > 1);
    const rest = await ok(reader, 'get_messages', { session_id: sessionId, after_id: ids.public });
    expect(idsOf(rest.messages)).toEqual(expectedIds(reader).slice(1));
    const offset = await ok(reader, 'get_messages', { session_id: sessionId, offset: 1 });
    expect(idsOf(offset.messages)).toEqual(expectedIds(reader).slice(1));
  });

  it.each(READERS)(
    'get_message returns each message %s may see and answers MESSAGE_NOT_FOUND for the others, exactly as for an id that does not exist',
    async (reader) => {
      for (const kind of EXPECTED[reader]) {
        const got = await ok(reader, 'get_message', { session_id: sessionId, message_id: ids[kind] });
        expect(got.message).toMatchObject({ id: ids[kind], visibility: kind, content: CONTENT[kind] });
      }
      const missing = await callTool(clients[reader], 'get_message', {
        session_id: sessionId,
        message_id: missingId,
      });
      expect(missing.isError).toBe(true);
      expect(missing.json.code).toBe('MESSAGE_NOT_FOUND');
      for (const kind of hiddenKinds(reader)) {
        const hidden = await callTool(clients[reader], 'get_message', {
          session_id: sessionId,
          message_id: ids[kind],
        });
        expect(hidden.isError).toBe(true);
        expect(hidden.json.code).toBe('MESSAGE_NOT_FOUND');
        expect(JSON.stringify(hidden.json)).not.toContain(CONTENT[kind]);
        // Indistinguishable from a message that does not exist, apart from the id it names.
        const normalize = (json: ToolJson, id: number) =>
          JSON.parse(JSON.stringify(json).replace(new RegExp(`\\b${id}\\b`, 'g'), '<id>')) as unknown;
        expect(normalize(hidden.json, ids[kind])).toEqual(normalize(missing.json, missingId));
      }
    },
  );

  it.each(READERS)('get_session gives %s only visible messages and counts only those', async (reader) => {
    const view = await ok(reader, 'get_session', { session_id: sessionId });
    expect(view.session).toMatchObject({ session_id: sessionId, created_by: 'alice' });
    expect(idsOf(view.messages)).toEqual(expectedIds(reader));
    expect(view.message_count).toBe(EXPECTED[reader].length);
    expect(countsOf(view.counts)).toEqual(expectedCounts(reader));
  });

  it.each(READERS)(
    'search_context finds for %s only visible messages, for an exact, a misspelt and a two-letter query',
    async (reader) => {
      for (const query of [WORD, 'pelikan', 'pe']) {
        const found = await ok(reader, 'search_context', { session_id: sessionId, query, limit: 100 });
        const results = found.results as Array<{ message: Message; score: number }>;
        expect(sorted(results.map((r) => r.message.id)), `query ${query}`).toEqual(expectedIds(reader));
        const withoutMetadata = await ok(reader, 'search_context', {
          session_id: sessionId,
          query,
          limit: 100,
          search_metadata: false,
          fuzzy_threshold: 0,
        });
        const all = withoutMetadata.results as Array<{ message: Message }>;
        expect(sorted(all.map((r) => r.message.id)), `query ${query}, threshold 0`).toEqual(
          expectedIds(reader),
        );
      }
    },
  );

  it.each(READERS)('search_by_sender shows %s only the visible messages of each sender', async (reader) => {
    const fromAlice = await ok(reader, 'search_by_sender', { session_id: sessionId, sender: 'alice' });
    expect(idsOf(fromAlice.messages)).toEqual(expectedIds(reader).filter((id) => id !== ids.admin_only));
    expect(fromAlice.count).toBe(EXPECTED[reader].filter((k) => k !== 'admin_only').length);
    const fromRoot = await ok(reader, 'search_by_sender', { session_id: sessionId, sender: 'root' });
    expect(idsOf(fromRoot.messages)).toEqual(reader === 'admin' ? [ids.admin_only] : []);
  });

  it.each(READERS)('search_by_timerange shows %s only visible messages in the range', async (reader) => {
    const inRange = await ok(reader, 'search_by_timerange', {
      session_id: sessionId,
      start_time: startTime,
      end_time: endTime,
    });
    expect(idsOf(inRange.messages)).toEqual(expectedIds(reader));
    expect(inRange.count).toBe(EXPECTED[reader].length);
  });

  it.each(READERS)('wait_for_messages returns at once with only the messages %s may see', async (reader) => {
    const page = await ok(reader, 'wait_for_messages', { session_id: sessionId, after_id: 0, timeout_s: 0 });
    expect(idsOf(page.messages)).toEqual(expectedIds(reader));
    expect(page.timed_out).toBe(false);
    const after = await ok(reader, 'wait_for_messages', {
      session_id: sessionId,
      after_id: ids.private,
      timeout_s: 0,
    });
    expect(idsOf(after.messages)).toEqual(expectedIds(reader).filter((id) => id > ids.private));
  });

  it.each(READERS)(
    'the session://{id} resource shows %s only visible messages and counts',
    async (reader) => {
      const view = await readJson(reader, `session://${sessionId}`);
      expect(view.session).toMatchObject({ session_id: sessionId });
      expect(idsOf(view.messages)).toEqual(expectedIds(reader));
      expect(view.message_count).toBe(EXPECTED[reader].length);
      expect(countsOf(view.counts)).toEqual(expectedCounts(reader));
      // The resource and the get_session tool describe the same state.
      const { success: _success, ...tool } = await ok(reader, 'get_session', { session_id: sessionId });
      expect(view).toEqual(tool);
    },
  );

  it.each(READERS)(
    'the session://{id}/messages/{limit} resource gives %s the newest visible messages, not the newest filtered',
    async (reader) => {
      const all = await readJson(reader, `session://${sessionId}/messages/500`);
      expect(idsOf(all.messages)).toEqual(expectedIds(reader));
      expect(all.count).toBe(EXPECTED[reader].length);
      const newest = await readJson(reader, `session://${sessionId}/messages/1`);
      expect(idsOf(newest.messages)).toEqual(expectedIds(reader).slice(-1));
      const two = await readJson(reader, `session://${sessionId}/messages/2`);
      expect(idsOf(two.messages)).toEqual(expectedIds(reader).slice(-2));
    },
  );
});

describe('filters only narrow', () => {
  it("visibility_filter='private' shows bob and carol nothing of alice's private message", async () => {
    for (const reader of ['bob', 'carol'] as const) {
      const page = await ok(reader, 'get_messages', { session_id: sessionId, visibility_filter: 'private' });
      expect(page.messages).toEqual([]);
      expect(page.total_count).toBe(0);
    }
  });

  it('a visibility_filter for a visibility the reader may not see returns nothing', async () => {
    const cases: Array<[Reader, Kind]> = [
      ['carol', 'agent_only'],
      ['alice', 'admin_only'],
      ['bob', 'admin_only'],
      ['carol', 'admin_only'],
    ];
    for (const [reader, kind] of cases) {
      const page = await ok(reader, 'get_messages', { session_id: sessionId, visibility_filter: kind });
      expect(page.messages, `${reader} filtering ${kind}`).toEqual([]);
      expect(page.total_count).toBe(0);
    }
  });

  it.each(READERS)(
    'each visibility_filter gives %s the allowed message of that visibility or nothing',
    async (reader) => {
      for (const kind of KINDS) {
        const page = await ok(reader, 'get_messages', { session_id: sessionId, visibility_filter: kind });
        expect(idsOf(page.messages), kind).toEqual(EXPECTED[reader].includes(kind) ? [ids[kind]] : []);
      }
    },
  );

  it('sender and thread_id filters do not reveal hidden messages', async () => {
    const bobSeesAlice = await ok('bob', 'get_messages', { session_id: sessionId, sender: 'alice' });
    expect(idsOf(bobSeesAlice.messages)).toEqual([ids.public, ids.agent_only]);
    const carolSeesRoot = await ok('carol', 'get_messages', { session_id: sessionId, sender: 'root' });
    expect(carolSeesRoot.messages).toEqual([]);
    const bobThread = await ok('bob', 'get_messages', { session_id: sessionId, thread_id: ids.private });
    expect(bobThread.messages).toEqual([]);
    const carolThread = await ok('carol', 'get_messages', {
      session_id: sessionId,
      thread_id: ids.agent_only,
    });
    expect(carolThread.messages).toEqual([]);
    const bobRange = await ok('bob', 'get_messages', {
      session_id: sessionId,
      after_id: 0,
      before_id: missingId,
      limit: 1000,
    });
    expect(idsOf(bobRange.messages)).toEqual(expectedIds('bob'));
  });

  it("search_scope='private' finds nothing of alice's for bob or carol, and only her private note for her and the admin", async () => {
    const scoped = async (reader: Reader, scope: string) => {
      const found = await ok(reader, 'search_context', {
        session_id: sessionId,
        query: WORD,
        search_scope: scope,
        limit: 100,
      });
      return sorted((found.results as Array<{ message: Message }>).map((r) => r.message.id));
    };
    expect(await scoped('bob', 'private')).toEqual([]);
    expect(await scoped('carol', 'private')).toEqual([]);
    expect(await scoped('alice', 'private')).toEqual([ids.private]);
    expect(await scoped('admin', 'private')).toEqual([ids.private]);
    for (const reader of READERS) expect(await scoped(reader, 'public')).toEqual([ids.public]);
  });
});

describe('writes under the visibility rule', () => {
  let writeSession: string;
  let alicePrivate: number;
  let aliceAgentOnly: number;

  beforeAll(async () => {
    const created = await ok('alice', 'create_session', { purpose: 'visibility writes' });
    writeSession = created.session_id as string;
    alicePrivate = (
      await ok('alice', 'add_message', {
        session_id: writeSession,
        content: 'root secret',
        visibility: 'private',
      })
    ).message_id as number;
    aliceAgentOnly = (
      await ok('alice', 'add_message', {
        session_id: writeSession,
        content: 'claude-only root',
        visibility: 'agent_only',
      })
    ).message_id as number;
  });

  const adminTotal = async (): Promise<number> =>
    (await ok('admin', 'get_messages', { session_id: writeSession, limit: 1000 })).total_count as number;

  it('a non-admin cannot write an admin_only message, over MCP or HTTP, and nothing is stored', async () => {
    const before = await adminTotal();
    for (const reader of ['alice', 'bob', 'carol'] as const) {
      const denied = await callTool(clients[reader], 'add_message', {
        session_id: writeSession,
        content: `forged admin note by ${reader}`,
        visibility: 'admin_only',
      });
      expect(denied.isError).toBe(true);
      expect(denied.json).toMatchObject({ success: false, code: 'PERMISSION_DENIED' });
      const overHttp = await callHttpTool(
        server.url,
        'add_message',
        { session_id: writeSession, content: `forged admin note by ${reader}`, visibility: 'admin_only' },
        bearer(reader),
      );
      expect(overHttp.status).toBe(403);
      expect(overHttp.body).toMatchObject({ success: false, code: 'PERMISSION_DENIED' });
    }
    expect(await adminTotal()).toBe(before);
    const search = await ok('admin', 'search_context', {
      session_id: writeSession,
      query: 'forged',
      limit: 100,
    });
    expect(search.results).toEqual([]);
  });

  it('an admin can write admin_only, and only admins read it back', async () => {
    const added = await ok('admin', 'add_message', {
      session_id: writeSession,
      content: 'admins only here',
      visibility: 'admin_only',
    });
    const id = added.message_id as number;
    expect((await mcp('admin', 'get_message', { session_id: writeSession, message_id: id })).success).toBe(
      true,
    );
    for (const reader of ['alice', 'bob', 'carol'] as const) {
      const got = await mcp(reader, 'get_message', { session_id: writeSession, message_id: id });
      expect(got.code).toBe('MESSAGE_NOT_FOUND');
    }
  });

  it('a reply whose parent_message_id is a message the writer cannot see is refused like a missing parent, and nothing is stored', async () => {
    const before = await adminTotal();
    const cases: Array<[Reader, number]> = [
      ['bob', alicePrivate],
      ['carol', alicePrivate],
      ['carol', aliceAgentOnly],
    ];
    const missing = await mcp('carol', 'add_message', {
      session_id: writeSession,
      content: 'reply to nothing',
      parent_message_id: missingId,
    });
    expect(missing).toMatchObject({ success: false, code: 'MESSAGE_NOT_FOUND' });
    for (const [reader, parent] of cases) {
      const refused = await callTool(clients[reader], 'add_message', {
        session_id: writeSession,
        content: `reply by ${reader}`,
        parent_message_id: parent,
      });
      expect(refused.isError, `${reader} replying to ${parent}`).toBe(true);
      expect(refused.json).toMatchObject({ success: false, code: 'MESSAGE_NOT_FOUND' });
      const overHttp = await callHttpTool(
        server.url,
        'add_message',
        { session_id: writeSession, content: `reply by ${reader}`, parent_message_id: parent },
        bearer(reader),
      );
      expect(overHttp.status).toBe(404);
      expect(overHttp.body.code).toBe('MESSAGE_NOT_FOUND');
    }
    expect(await adminTotal()).toBe(before);
  });

  it('a reply to a message the writer can see is accepted and threads under it', async () => {
    const bobReply = await ok('bob', 'add_message', {
      session_id: writeSession,
      content: 'bob answers the claude-only note',
      parent_message_id: aliceAgentOnly,
    });
    const aliceReply = await ok('alice', 'add_message', {
      session_id: writeSession,
      content: 'alice answers herself',
      parent_message_id: alicePrivate,
      visibility: 'private',
    });
    const thread = await ok('bob', 'get_messages', { session_id: writeSession, thread_id: aliceAgentOnly });
    expect(idsOf(thread.messages)).toEqual([aliceAgentOnly, bobReply.message_id as number]);
    const aliceThread = await ok('alice', 'get_messages', {
      session_id: writeSession,
      thread_id: alicePrivate,
    });
    expect(idsOf(aliceThread.messages)).toEqual([alicePrivate, aliceReply.message_id as number]);
    const bobPrivateThread = await ok('bob', 'get_messages', {
      session_id: writeSession,
      thread_id: alicePrivate,
    });
    expect(bobPrivateThread.messages).toEqual([]);
  });

  it('a waiting reader is woken only by a message it may see, and gets only what it may see', async () => {
    const last = (await ok('admin', 'get_messages', { session_id: writeSession, limit: 1000 }))
      .messages as Message[];
    const afterId = last.at(-1)?.id ?? 0;
    const waitAs = (reader: Reader) =>
      callTool(clients[reader], 'wait_for_messages', {
        session_id: writeSession,
        after_id: afterId,
        timeout_s: 30,
      });
    const waiting = server.app.services.waiter.waiting;
    const bobWait = waitAs('bob');
    const carolWait = waitAs('carol');
    // Let both long-polls register before anything is written (a sync point, not a timing assertion).
    for (let i = 0; i < 200 && server.app.services.waiter.waiting < waiting + 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const privateId = (
      await ok('alice', 'add_message', {
        session_id: writeSession,
        content: 'wake nobody',
        visibility: 'private',
      })
    ).message_id as number;
    const agentOnlyId = (
      await ok('alice', 'add_message', {
        session_id: writeSession,
        content: 'wake bob',
        visibility: 'agent_only',
      })
    ).message_id as number;
    const publicId = (
      await ok('alice', 'add_message', { session_id: writeSession, content: 'wake everyone' })
    ).message_id as number;
    const [bob, carol] = await Promise.all([bobWait, carolWait]);
    expect(bob.json.success).toBe(true);
    expect(bob.json.timed_out).toBe(false);
    const bobIds = idsOf(bob.json.messages);
    expect(bobIds[0]).toBe(agentOnlyId);
    expect(bobIds).not.toContain(privateId);
    expect([agentOnlyId, publicId]).toEqual(expect.arrayContaining(bobIds));
    expect(carol.json.success).toBe(true);
    expect(carol.json.timed_out).toBe(false);
    expect(idsOf(carol.json.messages)).toEqual([publicId]);
  });

  it('add_private_note is readable only by its writer and admins', async () => {
    const note = await ok('carol', 'add_private_note', {
      session_id: writeSession,
      content: 'carol thinks aloud',
    });
    const id = note.message_id as number;
    for (const reader of READERS) {
      const got = await mcp(reader, 'get_message', { session_id: writeSession, message_id: id });
      if (reader === 'carol' || reader === 'admin') {
        expect(got.message).toMatchObject({ id, visibility: 'private', sender: 'carol' });
      } else {
        expect(got.code).toBe('MESSAGE_NOT_FOUND');
      }
    }
  });
});

describe('MCP and HTTP agree', () => {
  it.each(READERS)('the read tools answer %s with the same JSON over HTTP as over MCP', async (reader) => {
    const calls: Array<[string, Record<string, unknown>]> = [
      ['get_messages', { session_id: sessionId }],
      ['get_messages', { session_id: sessionId, visibility_filter: 'private' }],
      ['get_session', { session_id: sessionId }],
      ['search_context', { session_id: sessionId, query: WORD, limit: 100 }],
      ['search_context', { session_id: sessionId, query: WORD, search_scope: 'private' }],
      ['search_by_sender', { session_id: sessionId, sender: 'alice' }],
      ['search_by_timerange', { session_id: sessionId, start_time: startTime, end_time: endTime }],
      ...KINDS.map((k): [string, Record<string, unknown>] => [
        'get_message',
        { session_id: sessionId, message_id: ids[k] },
      ]),
    ];
    for (const [name, args] of calls) {
      const overMcp = await callTool(clients[reader], name, args);
      const overHttp = await callHttpTool(server.url, name, args, bearer(reader));
      const label = `${name} ${JSON.stringify(args)}`;
      expect(withoutTiming(overHttp.body), label).toEqual(withoutTiming(overMcp.json));
      expect(overHttp.status === 200, label).toBe(!overMcp.isError);
      if (overMcp.isError) expect(overHttp.status, label).toBe(404);
    }
  });

  it.each(READERS)(
    'a modern-era (2026) MCP client sees the same messages for %s as a 2025-era client',
    async (reader) => {
      const modern = await connectMcp(server.url, bearer(reader), 'auto');
      try {
        const page = await callTool(modern, 'get_messages', { session_id: sessionId });
        expect(idsOf(page.json.messages)).toEqual(expectedIds(reader));
        const hidden = hiddenKinds(reader);
        for (const kind of hidden) {
          const got = await callTool(modern, 'get_message', { session_id: sessionId, message_id: ids[kind] });
          expect(got.json.code).toBe('MESSAGE_NOT_FOUND');
        }
        const resource = await modern.readResource(
          { uri: `session://${sessionId}/messages/500` },
          { cacheMode: 'bypass' },
        );
        const first = resource.contents[0];
        expect(first !== undefined && 'text' in first).toBe(true);
        const body = JSON.parse((first as { text: string }).text) as { messages: Message[] };
        expect(idsOf(body.messages)).toEqual(expectedIds(reader));
      } finally {
        await modern.close();
      }
    },
  );
});
