import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectMcp } from './helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

const UNKNOWN_SESSION = 'session_0000000000000000';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('agent memory', () => {
  let server: TestServer;
  const clients: Client[] = [];
  let alice: Client;
  let bob: Client;
  let sessionId: string;

  /** An MCP client for a fresh agent (each test may use its own agent so keys never collide). */
  async function connectAs(agentId: string): Promise<Client> {
    const token = await tokenFor(server, agentId);
    const client = await connectMcp(server.url, { authorization: `Bearer ${token}` });
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    server = await startTestServer();
    alice = await connectAs('alice');
    bob = await connectAs('bob');
    const created = await callTool(alice, 'create_session', { purpose: 'memory tests' });
    expect(created.json.success).toBe(true);
    sessionId = created.json.session_id as string;
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await server.cleanup();
  });

  describe('values round-trip exactly', () => {
    const cases: Array<[string, unknown]> = [
      ['the string "42" (stays a string)', '42'],
      ['the string "null" (stays a string)', 'null'],
      ['the empty string', ''],
      ['an integer', 42],
      ['a float', 3.14159],
      ['a negative number', -17.5],
      ['the largest safe integer', Number.MAX_SAFE_INTEGER],
      ['zero', 0],
      ['true', true],
      ['false', false],
      ['null', null],
      ['a nested object', { a: 1, b: { c: [1, 2, { d: 'x' }], e: null, f: false }, g: 'h' }],
      ['an empty object', {}],
      ['an array of mixed values', [1, 'two', null, true, { three: 3 }, [4, [5]]]],
      ['an empty array', []],
      ['unicode and emoji', 'héllo wörld — 日本語 — Ελληνικά — 🚀👩‍👩‍👧‍👦 — \u0000 tab\tnewline\n"quotes"'],
      ['a large-ish string (200 kB)', 'abcdefghij'.repeat(20_000)],
    ];

    for (const [label, value] of cases) {
      it(`stores and returns ${label} unchanged`, async () => {
        const key = `roundtrip:${label.replace(/\s+/g, '_')}`;
        const set = await callTool(alice, 'set_memory', { key, value });
        expect(set.isError).toBe(false);
        expect(set.json).toMatchObject({ success: true, key, scope: 'global', version: 1 });
        const got = await callTool(alice, 'get_memory', { key });
        expect(got.isError).toBe(false);
        expect(got.json.success).toBe(true);
        expect(got.json.value).toStrictEqual(value);
        expect(typeof got.json.value).toBe(typeof value);
      });
    }

    it('returns the same value over the HTTP tool route as over MCP', async () => {
      const token = await tokenFor(server, 'alice');
      const value = { n: '42', list: [1, '1', true], emoji: '🧠' };
      await callTool(alice, 'set_memory', { key: 'http-and-mcp', value });
      const { status, body } = await callHttpTool(
        server.url,
        'get_memory',
        { key: 'http-and-mcp' },
        { authorization: `Bearer ${token}` },
      );
      expect(status).toBe(200);
      expect(body.value).toStrictEqual(value);
    });
  });

  it('keeps the global scope and a session scope separate for the same key', async () => {
    const agent = await connectAs('scope-agent');
    await callTool(agent, 'set_memory', { key: 'plan', value: 'global plan' });
    await callTool(agent, 'set_memory', { key: 'plan', value: 'session plan', session_id: sessionId });

    const global = await callTool(agent, 'get_memory', { key: 'plan' });
    expect(global.json).toMatchObject({ value: 'global plan', scope: 'global', session_id: null });
    const scoped = await callTool(agent, 'get_memory', { key: 'plan', session_id: sessionId });
    expect(scoped.json).toMatchObject({ value: 'session plan', scope: 'session', session_id: sessionId });

    await callTool(agent, 'delete_memory', { key: 'plan', session_id: sessionId });
    const afterDelete = await callTool(agent, 'get_memory', { key: 'plan', session_id: sessionId });
    expect(afterDelete.json.code).toBe('MEMORY_NOT_FOUND');
    const globalStill = await callTool(agent, 'get_memory', { key: 'plan' });
    expect(globalStill.json.value).toBe('global plan');
  });

  describe('privacy', () => {
    beforeAll(async () => {
      const set = await callTool(alice, 'set_memory', {
        key: 'alice-secret',
        value: 'the password is swordfish',
      });
      expect(set.json.success).toBe(true);
    });

    it("does not let bob read alice's key", async () => {
      const got = await callTool(bob, 'get_memory', { key: 'alice-secret' });
      expect(got.isError).toBe(true);
      expect(got.json.code).toBe('MEMORY_NOT_FOUND');
      expect(JSON.stringify(got.json)).not.toContain('swordfish');
    });

    it("does not list alice's keys to bob in any scope", async () => {
      const listed = await callTool(bob, 'list_memory', { session_id: 'all' });
      expect(listed.json.success).toBe(true);
      const keys = (listed.json.entries as Array<{ key: string }>).map((e) => e.key);
      expect(keys).not.toContain('alice-secret');
    });

    it("does not let bob delete or overwrite alice's key", async () => {
      const deleted = await callTool(bob, 'delete_memory', { key: 'alice-secret' });
      expect(deleted.json.code).toBe('MEMORY_NOT_FOUND');
      const bobsOwn = await callTool(bob, 'set_memory', { key: 'alice-secret', value: 'bob value' });
      expect(bobsOwn.json).toMatchObject({ success: true, version: 1 });
      const alices = await callTool(alice, 'get_memory', { key: 'alice-secret' });
      expect(alices.json).toMatchObject({ value: 'the password is swordfish', version: 1 });
    });

    it('refuses the agent://alice/memory resource to bob', async () => {
      await expect(bob.readResource({ uri: 'agent://alice/memory' })).rejects.toMatchObject({
        data: { code: 'PERMISSION_DENIED' },
      });
    });

    it('serves the agent://alice/memory resource to alice with her entries', async () => {
      const result = await alice.readResource({ uri: 'agent://alice/memory' });
      const first = result.contents[0] as { text?: string } | undefined;
      const body = JSON.parse(first?.text ?? '{}') as { agent_id: string; entries: Array<{ key: string }> };
      expect(body.agent_id).toBe('alice');
      expect(body.entries.map((e) => e.key)).toContain('alice-secret');
      expect(JSON.stringify(body)).not.toContain('bob value');
    });
  });

  describe('expiry', () => {
    it('shows an entry with expires_in=1 at once and hides it (also from list_memory) after it expires', async () => {
      const agent = await connectAs('ttl-agent');
      const set = await callTool(agent, 'set_memory', {
        key: 'ephemeral',
        value: 'soon gone',
        expires_in: 1,
      });
      expect(set.json.success).toBe(true);
      expect(set.json.expires_at).toEqual(expect.any(String));

      const now = await callTool(agent, 'get_memory', { key: 'ephemeral' });
      expect(now.json).toMatchObject({ success: true, value: 'soon gone' });
      const listedNow = await callTool(agent, 'list_memory', {});
      expect((listedNow.json.entries as Array<{ key: string }>).map((e) => e.key)).toContain('ephemeral');

      await sleep(1200);
      // Bounded wait: a correct server hides it by now; allow a little slack for a slow machine.
      let later = await callTool(agent, 'get_memory', { key: 'ephemeral' });
      for (let i = 0; i < 10 && later.json.success === true; i++) {
        await sleep(200);
        later = await callTool(agent, 'get_memory', { key: 'ephemeral' });
      }
      expect(later.isError).toBe(true);
      expect(later.json.code).toBe('MEMORY_NOT_FOUND');

      for (const scope of [{}, { session_id: 'all' }]) {
        const listed = await callTool(agent, 'list_memory', scope);
        expect((listed.json.entries as Array<{ key: string }>).map((e) => e.key)).not.toContain('ephemeral');
      }
    });

    it('treats an expired key as absent for if_version 0 and starts again at version 1', async () => {
      const agent = await connectAs('ttl-cas-agent');
      await callTool(agent, 'set_memory', { key: 'lease', value: 'first holder', expires_in: 1 });
      await sleep(1200);
      let got = await callTool(agent, 'get_memory', { key: 'lease' });
      for (let i = 0; i < 10 && got.json.success === true; i++) {
        await sleep(200);
        got = await callTool(agent, 'get_memory', { key: 'lease' });
      }
      const again = await callTool(agent, 'set_memory', {
        key: 'lease',
        value: 'second holder',
        if_version: 0,
      });
      expect(again.json).toMatchObject({ success: true, version: 1 });
      const now = await callTool(agent, 'get_memory', { key: 'lease' });
      expect(now.json).toMatchObject({ value: 'second holder', version: 1, expires_at: null });
    });
  });

  describe('compare-and-set', () => {
    let agent: Client;
    beforeAll(async () => {
      agent = await connectAs('cas-agent');
    });

    it('creates with if_version 0 only when the key is absent, and reports the current version otherwise', async () => {
      const first = await callTool(agent, 'set_memory', { key: 'lock', value: 'mine', if_version: 0 });
      expect(first.json).toMatchObject({ success: true, version: 1 });
      const second = await callTool(agent, 'set_memory', { key: 'lock', value: 'theirs', if_version: 0 });
      expect(second.isError).toBe(true);
      expect(second.json.code).toBe('CONFLICT');
      expect(second.json.details).toMatchObject({ current_version: 1 });
      const stored = await callTool(agent, 'get_memory', { key: 'lock' });
      expect(stored.json).toMatchObject({ value: 'mine', version: 1 });
    });

    it('writes when if_version matches and bumps the version by one', async () => {
      await callTool(agent, 'set_memory', { key: 'counter', value: 1 });
      const next = await callTool(agent, 'set_memory', { key: 'counter', value: 2, if_version: 1 });
      expect(next.json).toMatchObject({ success: true, version: 2 });
      const third = await callTool(agent, 'set_memory', { key: 'counter', value: 3, if_version: 2 });
      expect(third.json).toMatchObject({ success: true, version: 3 });
      const stored = await callTool(agent, 'get_memory', { key: 'counter' });
      expect(stored.json).toMatchObject({ value: 3, version: 3 });
    });

    it('refuses a stale if_version with CONFLICT and leaves the stored value unchanged', async () => {
      await callTool(agent, 'set_memory', { key: 'doc', value: 'v1' });
      await callTool(agent, 'set_memory', { key: 'doc', value: 'v2' });
      const stale = await callTool(agent, 'set_memory', { key: 'doc', value: 'lost update', if_version: 1 });
      expect(stale.isError).toBe(true);
      expect(stale.json.code).toBe('CONFLICT');
      expect(stale.json.details).toMatchObject({ current_version: 2 });
      const stored = await callTool(agent, 'get_memory', { key: 'doc' });
      expect(stored.json).toMatchObject({ value: 'v2', version: 2 });
    });

    it('refuses a non-zero if_version for an absent key', async () => {
      const absent = await callTool(agent, 'set_memory', { key: 'never-written', value: 1, if_version: 3 });
      expect(absent.json.code).toBe('CONFLICT');
      const got = await callTool(agent, 'get_memory', { key: 'never-written' });
      expect(got.json.code).toBe('MEMORY_NOT_FOUND');
    });

    it('refuses overwrite=false on an existing key with CONFLICT and keeps the old value', async () => {
      await callTool(agent, 'set_memory', { key: 'keep', value: 'original' });
      const refused = await callTool(agent, 'set_memory', {
        key: 'keep',
        value: 'clobber',
        overwrite: false,
      });
      expect(refused.isError).toBe(true);
      expect(refused.json.code).toBe('CONFLICT');
      const stored = await callTool(agent, 'get_memory', { key: 'keep' });
      expect(stored.json).toMatchObject({ value: 'original', version: 1 });
      const fresh = await callTool(agent, 'set_memory', { key: 'keep-new', value: 'ok', overwrite: false });
      expect(fresh.json).toMatchObject({ success: true, version: 1 });
    });

    it('lets exactly one of 10 concurrent writers with the same if_version win', async () => {
      await callTool(agent, 'set_memory', { key: 'race', value: 'start' });
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          callTool(agent, 'set_memory', { key: 'race', value: `writer ${i}`, if_version: 1 }),
        ),
      );
      const winners = results.filter((r) => r.json.success === true);
      const losers = results.filter((r) => r.json.success !== true);
      expect(winners).toHaveLength(1);
      expect(losers.map((r) => r.json.code)).toEqual(Array(9).fill('CONFLICT'));
      const stored = await callTool(agent, 'get_memory', { key: 'race' });
      expect(stored.json.version).toBe(2);
      const winner = results.findIndex((r) => r.json.success === true);
      expect(stored.json.value).toBe(`writer ${winner}`);
    });

    it('lets exactly one of 10 concurrent if_version 0 creators win', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          callTool(agent, 'set_memory', { key: 'race-create', value: i, if_version: 0 }),
        ),
      );
      expect(results.filter((r) => r.json.success === true)).toHaveLength(1);
      expect(results.filter((r) => r.json.code === 'CONFLICT')).toHaveLength(9);
    });
  });

  describe('listing', () => {
    let agent: Client;
    beforeAll(async () => {
      agent = await connectAs('list-agent');
      for (const key of [
        'task:1',
        'task:2',
        'task:10',
        'note:1',
        'a%b_1',
        'a%b_2',
        'axbx3',
        'a%bc',
        'A%B_upper',
        '🚀launch',
        '🚀land',
        'ünï:1',
      ]) {
        const set = await callTool(agent, 'set_memory', { key, value: key });
        expect(set.json.success).toBe(true);
      }
      await callTool(agent, 'set_memory', { key: 'task:in-session', value: 1, session_id: sessionId });
    });

    const keysOf = (json: Record<string, unknown>) =>
      (json.entries as Array<{ key: string }>).map((e) => e.key).sort();

    it('lists only the global scope by default', async () => {
      const listed = await callTool(agent, 'list_memory', {});
      expect(keysOf(listed.json)).not.toContain('task:in-session');
      expect(listed.json.count).toBe(12);
    });

    it('filters by prefix', async () => {
      const listed = await callTool(agent, 'list_memory', { prefix: 'task:' });
      expect(keysOf(listed.json)).toEqual(['task:1', 'task:10', 'task:2']);
    });

    it('matches % and _ in a prefix literally, not as wildcards', async () => {
      const listed = await callTool(agent, 'list_memory', { prefix: 'a%b_' });
      expect(keysOf(listed.json)).toEqual(['a%b_1', 'a%b_2']);
      const percent = await callTool(agent, 'list_memory', { prefix: '%' });
      expect(keysOf(percent.json)).toEqual([]);
    });

    it('matches a prefix with accents or emoji (characters outside the basic plane)', async () => {
      const accented = await callTool(agent, 'list_memory', { prefix: 'ünï' });
      expect(keysOf(accented.json)).toEqual(['ünï:1']);
      const emoji = await callTool(agent, 'list_memory', { prefix: '🚀' });
      expect(keysOf(emoji.json)).toEqual(['🚀land', '🚀launch']);
      const longer = await callTool(agent, 'list_memory', { prefix: '🚀lau' });
      expect(keysOf(longer.json)).toEqual(['🚀launch']);
    });

    it('lists one session scope when given its id', async () => {
      const listed = await callTool(agent, 'list_memory', { session_id: sessionId });
      expect(listed.json.entries).toEqual([
        expect.objectContaining({ key: 'task:in-session', scope: 'session', session_id: sessionId }),
      ]);
    });

    it('lists every scope with "all", combined with a prefix', async () => {
      const all = await callTool(agent, 'list_memory', { session_id: 'all' });
      expect(all.json.count).toBe(13);
      const tasks = await callTool(agent, 'list_memory', { session_id: 'all', prefix: 'task:' });
      expect(keysOf(tasks.json)).toEqual(['task:1', 'task:10', 'task:2', 'task:in-session']);
    });

    it('honours limit', async () => {
      const listed = await callTool(agent, 'list_memory', { session_id: 'all', limit: 3 });
      expect(listed.json.entries).toHaveLength(3);
    });
  });

  it('returns the full entry shape, with metadata, and expires_in 0 means never', async () => {
    const agent = await connectAs('shape-agent');
    const set = await callTool(agent, 'set_memory', {
      key: 'shaped',
      value: [1],
      metadata: { source: 'test' },
      expires_in: 0,
    });
    expect(set.json).toMatchObject({
      success: true,
      key: 'shaped',
      scope: 'global',
      version: 1,
      expires_at: null,
    });
    const got = await callTool(agent, 'get_memory', { key: 'shaped' });
    expect(got.json).toMatchObject({
      success: true,
      key: 'shaped',
      value: [1],
      version: 1,
      metadata: { source: 'test' },
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      expires_at: null,
    });
  });

  it('refuses expires_in over one year before storing anything', async () => {
    const agent = await connectAs('long-ttl-agent');
    const result = await agent.callTool({
      name: 'set_memory',
      arguments: { key: 'forever', value: 1, expires_in: 31_536_001 },
    });
    expect(result.isError).toBe(true);
    const got = await callTool(agent, 'get_memory', { key: 'forever' });
    expect(got.json.code).toBe('MEMORY_NOT_FOUND');
  });

  it('forgets a deleted key: get answers MEMORY_NOT_FOUND', async () => {
    const agent = await connectAs('delete-agent');
    await callTool(agent, 'set_memory', { key: 'temp', value: 'x' });
    const deleted = await callTool(agent, 'delete_memory', { key: 'temp' });
    expect(deleted.json).toMatchObject({ success: true, key: 'temp' });
    const got = await callTool(agent, 'get_memory', { key: 'temp' });
    expect(got.isError).toBe(true);
    expect(got.json.code).toBe('MEMORY_NOT_FOUND');
    const again = await callTool(agent, 'delete_memory', { key: 'temp' });
    expect(again.json.code).toBe('MEMORY_NOT_FOUND');
  });

  it('answers SESSION_NOT_FOUND for a session-scoped write to an unknown session and stores nothing', async () => {
    const agent = await connectAs('unknown-session-agent');
    const set = await callTool(agent, 'set_memory', { key: 'k', value: 1, session_id: UNKNOWN_SESSION });
    expect(set.isError).toBe(true);
    expect(set.json.code).toBe('SESSION_NOT_FOUND');
    const all = await callTool(agent, 'list_memory', { session_id: 'all' });
    expect(all.json.count).toBe(0);
  });

  it('rejects an invalid key before storing anything', async () => {
    const agent = await connectAs('bad-key-agent');
    const result = await agent.callTool({ name: 'set_memory', arguments: { key: 'has space', value: 1 } });
    expect(result.isError).toBe(true);
    const all = await callTool(agent, 'list_memory', { session_id: 'all' });
    expect(all.json.count).toBe(0);
  });
});

describe('agent memory size limit', () => {
  let server: TestServer;
  let client: Client;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer({ MAX_MEMORY_VALUE_BYTES: '1000' });
    token = await tokenFor(server, 'big-writer');
    client = await connectMcp(server.url, { authorization: `Bearer ${token}` });
  });
  afterAll(async () => {
    await client.close();
    await server.cleanup();
  });

  it('refuses a value over MAX_MEMORY_VALUE_BYTES with PAYLOAD_TOO_LARGE and stores nothing', async () => {
    const big = await callTool(client, 'set_memory', { key: 'big', value: 'x'.repeat(1000) });
    expect(big.isError).toBe(true);
    expect(big.json.code).toBe('PAYLOAD_TOO_LARGE');
    const got = await callTool(client, 'get_memory', { key: 'big' });
    expect(got.json.code).toBe('MEMORY_NOT_FOUND');
  });

  it('answers 413 over HTTP for the same oversize value', async () => {
    const { status, body } = await callHttpTool(
      server.url,
      'set_memory',
      { key: 'big-http', value: { blob: 'y'.repeat(2000) } },
      { authorization: `Bearer ${token}` },
    );
    expect(status).toBe(413);
    expect(body.code).toBe('PAYLOAD_TOO_LARGE');
    const got = await callTool(client, 'get_memory', { key: 'big-http' });
    expect(got.json.code).toBe('MEMORY_NOT_FOUND');
  });

  it('accepts a value just under the limit', async () => {
    const ok = await callTool(client, 'set_memory', { key: 'fits', value: 'z'.repeat(990) });
    expect(ok.json.success).toBe(true);
    const got = await callTool(client, 'get_memory', { key: 'fits' });
    expect(got.json.value).toBe('z'.repeat(990));
  });

  it('keeps the previous value when an oversize overwrite is refused', async () => {
    await callTool(client, 'set_memory', { key: 'grow', value: 'small' });
    const big = await callTool(client, 'set_memory', { key: 'grow', value: 'g'.repeat(5000) });
    expect(big.json.code).toBe('PAYLOAD_TOO_LARGE');
    const got = await callTool(client, 'get_memory', { key: 'grow' });
    expect(got.json).toMatchObject({ value: 'small', version: 1 });
  });
});
