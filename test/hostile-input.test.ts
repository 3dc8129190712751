import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../bench/corpus.js';
import { TOOLS } from '../src/tools/registry.js';
import { type RawDatabase, TEST_DIALECT, openRawDatabase } from './helpers/database.js';
import { connectMcp } from './helpers/mcp-client.js';
import { type TestServer, callHttpTool, startTestServer, tokenFor } from './helpers/server.js';

/**
 * Randomized hostile input across every tool. Replay a run with HOSTILE_SEED=<the printed seed>.
 * Each call must be answered (never a 5xx, never INTERNAL_ERROR), every failure must have the
 * stable shape, and a rejected call must leave every table of the SQLite file as it was.
 */
const SEED = Number(process.env.HOSTILE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CALLS_PER_TOOL = 14;
const MCP_CALLS_PER_TOOL = 4;

const deep = (depth: number, leaf: unknown, asArray: boolean): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v };
  return v;
};

/** Values no tool argument should choke on. JSON.parse keeps "__proto__" as a plain own key. */
const HOSTILE_VALUES: ReadonlyArray<() => unknown> = [
  () => null,
  () => true,
  () => 0,
  () => -1,
  () => -0.5,
  () => 1e308,
  () => -1e308,
  () => 2 ** 53 + 2,
  () => 2 ** 64,
  () => 1.5,
  () => 'NaN',
  () => 'Infinity',
  () => '',
  () => ' ',
  () => 'x'.repeat(300_000),
  () => '\u0000',
  () => 'nul\u0000byte',
  () => '🙂'.repeat(5_000),
  () => '\ud800 lone surrogate',
  () => "'; DROP TABLE sessions; --",
  () => '" OR 1=1 --',
  () => 'session_0000000000000000',
  () => 'session_ZZZZ',
  () => 'session_0123456789abcdef\u0000',
  () => '../../etc/passwd',
  () => '%00%ff',
  () => '__proto__',
  () => '{"__proto__":{"polluted":1}}',
  () => '[]',
  () => 'ALL',
  () => '2024-02-30T25:61:61Z',
  () => [],
  () => [1, 'two', null],
  () => Array.from({ length: 5_000 }, (_, i) => `agent-${i}`),
  () => ({}),
  () => JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'),
  () => deep(2_000, 'leaf', false),
  () => deep(2_000, 'leaf', true),
  () => ({ toString: 'x', valueOf: 1, hasOwnProperty: 'no' }),
];

const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '',
  ' ',
  'session_id ',
  'ЅESSION_ID',
  '\u0000',
];

/** Tables the server fills on its own, off the request path (search index batches, presence). */
const VOLATILE_TABLES =
  /^(message_search|search_index_state|session_search_keys|session_search_words|sqlite_)/;
const VOLATILE_COLUMNS = new Set(['last_activity', 'last_heartbeat']);

describe(`hostile input (HOSTILE_SEED=${SEED})`, () => {
  let server: TestServer;
  let db: RawDatabase;
  let mcp: Client;
  let headers: Record<string, string>;
  let fixtures: Record<string, unknown>;
  const random = prng(SEED);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

  /** Every stored row but the volatile ones, in a canonical order (either dialect). */
  const snapshot = async (): Promise<string> => {
    const tables = await db.query<{ name: string }>(
      TEST_DIALECT === 'sqlite'
        ? "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        : 'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name',
    );
    const out: Record<string, string[]> = {};
    for (const { name } of tables) {
      if (VOLATILE_TABLES.test(name)) continue;
      const rows = await db.query(`SELECT * FROM "${name}"`);
      out[name] = rows
        .map((row) =>
          JSON.stringify(
            Object.fromEntries(Object.entries(row).filter(([column]) => !VOLATILE_COLUMNS.has(column))),
            (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
          ),
        )
        .sort();
    }
    return JSON.stringify(out);
  };

  /** A hostile argument set for a tool: a plausible call with one to three things wrong. */
  const hostileArgs = (name: string): unknown => {
    const tool = TOOLS.get(name)!;
    const keys = Object.keys(tool.inputJsonSchema.properties);
    if (random() < 0.1)
      return pick<() => unknown>([() => [], () => 'args', () => 42, () => null, () => [{}]])();
    const args: Record<string, unknown> = {};
    for (const key of keys) if (key in fixtures && random() < 0.7) args[key] = fixtures[key];
    const mutations = 1 + Math.floor(random() * 3);
    for (let i = 0; i < mutations; i++) {
      const r = random();
      if (r < 0.6 && keys.length > 0) args[pick(keys)] = pick(HOSTILE_VALUES)();
      else if (r < 0.8)
        Object.defineProperty(args, pick(HOSTILE_KEYS), { value: pick(HOSTILE_VALUES)(), enumerable: true, configurable: true, writable: true }); // prettier-ignore
      else if (keys.length > 0) delete args[pick(keys)];
    }
    return args;
  };

  const expectStableFailure = (where: string, body: Record<string, unknown>) => {
    expect(body.success, where).toBe(false);
    expect(body.code, where).toMatch(/^[A-Z][A-Z_]+$/);
    expect(body.code, where).not.toBe('INTERNAL_ERROR');
    expect(typeof body.error === 'string' && body.error.length > 0, where).toBe(true);
  };

  beforeAll(async () => {
    console.log(`hostile-input: HOSTILE_SEED=${SEED}`);
    server = await startTestServer({
      RATE_LIMIT_ANONYMOUS_PER_SECOND: '100000',
      RATE_LIMIT_ANONYMOUS_BURST: '100000',
    });
    const token = await tokenFor(server, 'hostile', { admin: true });
    headers = { authorization: `Bearer ${token}` };
    const session = await callHttpTool(server.url, 'create_session', { purpose: 'target' }, headers);
    const sessionId = session.body.session_id as string;
    await callHttpTool(server.url, 'add_message', { session_id: sessionId, content: 'seed' }, headers);
    await callHttpTool(server.url, 'set_memory', { key: 'seed', value: 1 }, headers);
    fixtures = {
      session_id: sessionId,
      content: 'hello',
      purpose: 'p',
      key: 'seed',
      value: 1,
      query: 'seed',
      sender: 'hostile',
      to: 'hostile',
      agent_id: 'target-agent',
      agent_type: 'reviewer',
      message_id: 1,
      after_id: 0,
      start_time: '2000-01-01T00:00:00Z',
      end_time: '2100-01-01T00:00:00Z',
    };
    db = await openRawDatabase(server.dataDir);
    mcp = await connectMcp(server.url, headers);
  });
  afterAll(async () => {
    await mcp?.close();
    await db?.close();
    await server?.cleanup();
  });

  it('over POST /mcp/tool/{name}: always answered, never a 5xx, and a rejected call changes nothing', async () => {
    let rejected = 0;
    for (const name of TOOLS.keys()) {
      for (let i = 0; i < CALLS_PER_TOOL; i++) {
        const args = hostileArgs(name);
        const before = await snapshot();
        const text = JSON.stringify(args);
        const { status, body } = await callHttpTool(server.url, name, text, headers);
        const where = `${name} ${text.slice(0, 300)} (HOSTILE_SEED=${SEED})`;
        expect(status, where).toBeLessThan(500);
        if (body.success === true) continue;
        rejected += 1;
        expectStableFailure(where, body);
        expect(await snapshot(), `${where} changed stored data`).toBe(before);
      }
    }
    expect(rejected).toBeGreaterThan(TOOLS.size * CALLS_PER_TOOL * 0.5);
  });

  it('raw bodies that are not JSON, or JSON nested too deep, are refused without a 5xx', async () => {
    const bodies = [
      '{',
      'NaN',
      '{"a":NaN}',
      '\u0000',
      '['.repeat(100_000),
      `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`,
    ];
    for (const name of ['add_message', 'set_memory', 'send_message']) {
      for (const text of bodies) {
        const before = await snapshot();
        const { status, body } = await callHttpTool(server.url, name, text, headers);
        expect(status, `${name} ${text.slice(0, 20)}`).toBeLessThan(500);
        expectStableFailure(`${name} ${text.slice(0, 20)}`, body);
        expect(await snapshot()).toBe(before);
      }
    }
  });

  it('over the MCP SDK client: a tool result or a protocol error, never an internal error', async () => {
    for (const name of TOOLS.keys()) {
      for (let i = 0; i < MCP_CALLS_PER_TOOL; i++) {
        const args = hostileArgs(name);
        if (typeof args !== 'object' || args === null || Array.isArray(args)) continue;
        const where = `${name} ${JSON.stringify(args).slice(0, 300)} (HOSTILE_SEED=${SEED})`;
        const before = await snapshot();
        let result: Awaited<ReturnType<Client['callTool']>>;
        try {
          result = await mcp.callTool({ name, arguments: args as Record<string, unknown> });
        } catch (error) {
          // A JSON-RPC error (e.g. invalid params) is an answer too; an internal one is a bug.
          expect((error as { code?: number }).code, where).not.toBe(-32603);
          expect(await snapshot(), where).toBe(before);
          continue;
        }
        const body = result.structuredContent as Record<string, unknown> | undefined;
        expect(body, where).toBeDefined();
        if (result.isError === true) {
          expectStableFailure(where, body!);
          expect(await snapshot(), `${where} changed stored data`).toBe(before);
        }
      }
    }
  });

  it('still answers /health afterwards', async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
  });
});
