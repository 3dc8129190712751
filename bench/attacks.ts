/**
 * The attacks of issue 6, each against a real server in its own child process
 * (bench/serve-for-bench.ts), with the server's RSS read from /proc/<pid>/status before, during
 * (every 100 ms, plus the kernel's VmHWM high-water mark, reset just before the attack) and after,
 * and GET /health checked after each. Every attack gets a fresh server: RSS figures do not carry
 * over, and the settings differ between attacks. Limits are the defaults of src/config unless an
 * attack says otherwise (serve-for-bench raises them for the throughput benches).
 *
 * Env: BENCH_ATTACKS (ids to run, e.g. "1,3b"; default all), BENCH_ATTACKS_INITIALIZES (3000).
 * Exit code 1 when an expectation or a /health check fails.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Agent } from 'node:http';
import { type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { loadConfig } from '../src/config/config.js';
import { spawnChild } from './child.js';
import {
  PROTOCOL_VERSION,
  type ServerInfo,
  envNumber,
  environment,
  initializeRequest,
  writeResults,
} from './common.js';
import { type HttpResult, keepAliveAgent, post, round, rpcMessages } from './load.js';

type Counts = Record<string, number | string>;

interface Outcome {
  counts: Counts;
  /** Whether what the issue expects happened (the /health check is added by the runner). */
  ok: boolean;
  /** Runs after the "after" RSS and /health were taken, while the server still runs (e.g. closes the attacker's sockets). */
  cleanup?: () => Promise<void>;
}

interface Attack {
  id: string;
  name: string;
  /** Settings that differ from the defaults, shown in the table. */
  changed: Record<string, string>;
  /** Extra child environment not worth showing (e.g. a prepared DATA_DIR). */
  setup?: () => Promise<Record<string, string>>;
  run(server: ServerInfo, agent: Agent): Promise<Outcome>;
}

const defaults = loadConfig({});
/** serve-for-bench raises the rate limits unless told otherwise: tell it the defaults. */
const DEFAULT_LIMITS: Record<string, string> = {
  RATE_LIMIT_PER_SECOND: String(defaults.rateLimit.perSecond),
  RATE_LIMIT_BURST: String(defaults.rateLimit.burst),
  RATE_LIMIT_ANONYMOUS_PER_SECOND: String(defaults.anonymousRateLimit.perSecond),
  RATE_LIMIT_ANONYMOUS_BURST: String(defaults.anonymousRateLimit.burst),
  // Pinned too, so a variable set in the caller's shell does not change the attack.
  MAX_MCP_SESSIONS: String(defaults.limits.maxMcpSessions),
  MCP_ANONYMOUS_SESSION_IDLE_SECONDS: String(defaults.limits.mcpAnonymousSessionIdleSeconds),
  MAX_REPLY_BYTES: String(defaults.limits.maxReplyBytes),
  MAX_CLIENT_BUFFER_BYTES: String(defaults.limits.maxClientBufferBytes),
};
const ACCEPT = 'application/json, text/event-stream';
const MAX_FRAME_BYTES = 256 * 1024;

// ---------------------------------------------------------------- RSS of the server child

function procStatus(pid: number): { rssKb: number; hwmKb: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

const mib = (kb: number): number => round(kb / 1024, 0);

/** Samples a process's RSS every 100 ms; also resets and reads the kernel's peak (VmHWM). */
class RssProbe {
  private peakKb = 0;
  private hwmReset = false;
  private readonly timer: NodeJS.Timeout;
  readonly beforeKb: number;

  constructor(private readonly pid: number) {
    try {
      // "5" resets VmHWM to the current RSS (Linux ≥ 4.0; the process is our child).
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
      this.hwmReset = true;
    } catch {
      this.hwmReset = false;
    }
    this.beforeKb = this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }

  sample(): number {
    try {
      const { rssKb } = procStatus(this.pid);
      this.peakKb = Math.max(this.peakKb, rssKb);
      return rssKb;
    } catch {
      return Number.NaN; // the process is gone
    }
  }

  stop(): { before: number; peak: number; hwm: number | undefined; after: number } {
    clearInterval(this.timer);
    const after = this.sample();
    let hwm: number | undefined;
    try {
      hwm = this.hwmReset ? mib(procStatus(this.pid).hwmKb) : undefined;
    } catch {
      hwm = undefined;
    }
    return { before: mib(this.beforeKb), peak: mib(this.peakKb), hwm, after: mib(after) };
  }
}

// ---------------------------------------------------------------- small clients

const tally = (counts: Counts, key: string, by = 1): void => {
  counts[key] = Number(counts[key] ?? 0) + by;
};

/** Tallies the answer `request` resolves with; a failed request (a reset, a bad body) is tallied too. */
async function counted(counts: Counts, request: () => Promise<string>): Promise<void> {
  try {
    tally(counts, await request());
  } catch (error) {
    tally(counts, `failed (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** Runs `task(0..count-1)` with at most `concurrency` at a time. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(count, concurrency) }, worker));
}

async function until(predicate: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await predicate()) return true;
    await sleep(50);
  }
  return predicate();
}

async function health(url: string): Promise<number | string> {
  try {
    return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) })).status;
  } catch (error) {
    return `down (${error instanceof Error ? error.message : String(error)})`;
  }
}

/** Sum of the Prometheus samples of `name` whose labels include `labels`. */
async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const tags = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => tags.includes(`${k}="${v}"`))) sum += Number(match[3]);
  }
  return sum;
}

/** The code of a JSON-RPC reply: the error's data.code, a tool result's code, or OK. */
function replyCode(result: HttpResult): string {
  if (result.status >= 400 && result.body.length === 0) return `HTTP ${result.status}`;
  const reply = rpcMessages(result).find((m) => 'result' in m || 'error' in m);
  if (reply === undefined) return `HTTP ${result.status}`;
  const error = reply.error as { data?: { code?: string }; message?: string } | undefined;
  if (error) return error.data?.code ?? `rpc ${error.message ?? '?'}`;
  const tool = reply.result as { isError?: boolean; content?: Array<{ text?: string }> } | undefined;
  if (tool?.isError === true)
    return (JSON.parse(tool.content?.[0]?.text ?? '{}') as { code?: string }).code ?? '?';
  return 'OK';
}

/** initialize + notifications/initialized; returns the headers of the session's later requests. */
async function openMcpSession(agent: Agent, url: string, headers: Record<string, string>) {
  const init = await post(agent, `${url}/mcp`, initializeRequest('attacks'), { accept: ACCEPT, ...headers });
  const id = init.headers['mcp-session-id'];
  if (init.status !== 200 || typeof id !== 'string') throw new Error(`initialize: HTTP ${init.status}`);
  const session = {
    ...headers,
    accept: ACCEPT,
    'mcp-session-id': id,
    'mcp-protocol-version': PROTOCOL_VERSION,
  };
  await post(
    agent,
    `${url}/mcp`,
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    session,
  );
  return session;
}

const bearer = (server: ServerInfo) => ({ authorization: `Bearer ${server.token}` });

/** A WebSocket of the bench agent, open once `backlog_done` arrived; error frames are tallied by code. */
async function openAgentSocket(server: ServerInfo) {
  const url = `${server.url.replace(/^http/, 'ws')}/ws/${server.agentId}?token=${server.token}`;
  const ws = new WebSocket(url);
  const errors: Counts = {};
  let closeCode: number | undefined;
  let ready!: () => void;
  const backlogDone = new Promise<void>((resolve) => (ready = resolve));
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as { type?: string; code?: string };
    if (frame.type === 'backlog_done') ready();
    if (frame.type === 'error') tally(errors, frame.code ?? '?');
  });
  ws.on('close', (code: number) => (closeCode = code));
  ws.on('error', () => undefined);
  await Promise.race([backlogDone, sleep(10_000).then(() => Promise.reject(new Error('no backlog_done')))]);
  return { ws, errors, closeCode: () => closeCode };
}

/** A raw POST /mcp on its own socket that is never read (until `drain`). */
function neverReadingPost(url: string, headers: Record<string, string>, body: string) {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  socket.pause();
  socket.on('error', () => undefined);
  const lines = [
    'POST /mcp HTTP/1.1',
    `host: ${hostname}:${port}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  /** Reads what the server left for this socket: did the reply arrive whole (last chunk) or was it cut? */
  const drain = (ms: number): Promise<'whole' | 'cut' | 'stalled'> =>
    new Promise((resolve) => {
      let tail = '';
      const timer = setTimeout(() => resolve('stalled'), ms);
      const finish = (how: 'whole' | 'cut') => {
        clearTimeout(timer);
        socket.destroy();
        resolve(how);
      };
      socket.on('data', (chunk: Buffer) => {
        tail = (tail + chunk.toString('latin1')).slice(-16);
        if (tail.endsWith('0\r\n\r\n')) finish('whole');
      });
      socket.on('close', () => finish('cut'));
      socket.resume();
    });
  return { socket, drain };
}

// ---------------------------------------------------------------- the attacks

/** Attack 2's count (BENCH_ATTACKS_INITIALIZES, e.g. 6000 to see that RSS stays at the cap's level). */
const INITIALIZES = envNumber('BENCH_ATTACKS_INITIALIZES', 3000);
const MESSAGES = 300;
const MESSAGE_CHARS = 99_000;
let seeded: { dataDir: string; sessionId: string } | undefined;

/** 300 messages of 99 KB in one session, written once by a server with raised limits, reused by 3a/3b. */
async function seedMessages(): Promise<{ dataDir: string; sessionId: string }> {
  if (seeded) return seeded;
  const child = await spawnChild<ServerInfo>('serve-for-bench.ts', {
    DATA_DIR: mkdtempSync(path.join(tmpdir(), 'scs-attacks-')),
  });
  try {
    const agent = keepAliveAgent(10);
    const tool = (name: string, args: unknown) =>
      post(agent, `${child.info.url}/mcp/tool/${name}`, JSON.stringify(args), bearer(child.info));
    const created = JSON.parse((await tool('create_session', { purpose: 'attack 3' })).body) as {
      session_id: string;
    };
    const content = 'lorem ipsum dolor sit amet '.repeat(4000).slice(0, MESSAGE_CHARS);
    await pool(MESSAGES, 10, async () => {
      const added = await tool('add_message', { session_id: created.session_id, content });
      if (added.status !== 200)
        throw new Error(`add_message: HTTP ${added.status} ${added.body.slice(0, 200)}`);
    });
    agent.destroy();
    seeded = { dataDir: child.info.dataDir, sessionId: created.session_id };
    return seeded;
  } finally {
    await child.stop();
  }
}

function unreadReplies(maxReplyBytes?: number): Attack {
  return {
    id: maxReplyBytes === undefined ? '3a' : '3b',
    name: `20 unread get_messages {limit:1000} over SSE (${MESSAGES} × 99 KB)`,
    changed: maxReplyBytes === undefined ? {} : { MAX_REPLY_BYTES: String(maxReplyBytes) },
    setup: async () => ({ DATA_DIR: (await seedMessages()).dataDir }),
    async run(server, agent) {
      const session = await openMcpSession(agent, server.url, bearer(server));
      // A batch is answered by the SDK transport as an SSE stream; a single tools/call would take the
      // JSON fast path. (The SDK refuses a POST whose Accept lacks application/json with 406.)
      const body = JSON.stringify([
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'get_messages', arguments: { session_id: seeded?.sessionId, limit: 1000 } },
        },
      ]);
      const calls = () => metric(server.url, 'scs_tool_calls_total', { tool: 'get_messages', code: 'OK' });
      const attackers = Array.from({ length: 20 }, () => neverReadingPost(server.url, session, body));
      await until(async () => (await calls()) >= 20, 60_000);
      await sleep(1500); // the replies are written after the call is counted
      const counts: Counts = {
        'calls OK': await calls(),
        'buffer overflows': await metric(server.url, 'scs_errors_total', { code: 'CLIENT_BUFFER_OVERFLOW' }),
      };
      return {
        counts,
        ok: counts['calls OK'] === 20,
        cleanup: async () => {
          const how = await Promise.all(attackers.map((a) => a.drain(10_000)));
          for (const h of how) tally(counts, `replies ${h}`);
        },
      };
    },
  };
}

function anonymousInitializes(raised: boolean): Attack {
  const changed: Record<string, string> = raised
    ? { RATE_LIMIT_ANONYMOUS_PER_SECOND: '1000000', RATE_LIMIT_ANONYMOUS_BURST: '1000000' }
    : {};
  return {
    id: raised ? '2b' : '2a',
    name: `${INITIALIZES.toLocaleString('en-US')} anonymous MCP initialize`,
    changed,
    async run(server, agent) {
      const counts: Counts = {};
      const started = performance.now();
      await pool(INITIALIZES, 50, () =>
        counted(counts, async () => {
          const init = initializeRequest('anonymous');
          return String((await post(agent, `${server.url}/mcp`, init, { accept: ACCEPT })).status);
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const open = await metric(server.url, 'scs_mcp_sessions_open');
      const served = Number(counts['200'] ?? 0);
      counts['sessions open'] = open;
      counts.seconds = round(seconds, 1);
      const anon = raised ? undefined : defaults.anonymousRateLimit;
      const allowed = anon ? anon.burst + anon.perSecond * seconds + 1 : INITIALIZES;
      return { counts, ok: open <= defaults.limits.maxMcpSessions && served <= allowed && served > 0 };
    },
  };
}

const ATTACKS: Attack[] = [
  {
    id: '1',
    name: `one WebSocket text frame of ${MAX_FRAME_BYTES} + 1 bytes`,
    changed: {},
    async run(server) {
      const { ws, closeCode } = await openAgentSocket(server);
      ws.send('x'.repeat(MAX_FRAME_BYTES + 1));
      await until(() => closeCode() !== undefined, 10_000);
      return { counts: { 'close code': String(closeCode() ?? 'none') }, ok: closeCode() === 1009 };
    },
  },
  anonymousInitializes(false),
  anonymousInitializes(true),
  unreadReplies(),
  unreadReplies(8 * 2 ** 20),
  {
    id: '4',
    name: '20,000 malformed WebSocket frames from one agent',
    changed: {},
    async run(server) {
      const socket = await openAgentSocket(server);
      const garbage = ['not json', '{"type":"dance"}', '{}', '[1,2,3]', '{"type":"ack","message_id":-1}'];
      for (let n = 0; n < 20_000; n++) socket.ws.send(garbage[n % garbage.length]!);
      const answered = () => Object.values(socket.errors).reduce<number>((a, v) => a + Number(v), 0);
      await until(() => answered() >= 20_000 || socket.closeCode() !== undefined, 60_000);
      const counts: Counts = { ...socket.errors, socket: socket.closeCode() ?? 'open' };
      socket.ws.close();
      return {
        counts,
        ok: answered() === 20_000 && Number(counts.RATE_LIMITED ?? 0) > 0 && counts.socket === 'open',
      };
    },
  },
  {
    id: '5',
    name: '1,000 wrong API keys from one address, then the right one',
    changed: {},
    async run(server, agent) {
      const counts: Counts = {};
      const authenticate = (agentId: string, apiKey: string) =>
        post(
          agent,
          `${server.url}/mcp/tool/authenticate_agent`,
          JSON.stringify({ agent_id: agentId, agent_type: 'generic', api_key: apiKey }),
        );
      const wrong = `scs_${randomBytes(24).toString('base64url')}`;
      await pool(1000, 10, () =>
        counted(counts, async () => String((await authenticate('guesser', wrong)).status)),
      );
      const held = await authenticate(server.agentId, server.apiKey);
      const retryAfter = Number((JSON.parse(held.body) as { retry_after?: number }).retry_after ?? 0);
      await sleep(retryAfter * 1000 + 100);
      const later = await authenticate(server.agentId, server.apiKey);
      counts['right key'] = `${held.status}, ${later.status} after retry_after ${retryAfter} s`;
      return {
        counts,
        ok: Number(counts['429'] ?? 0) > 0 && held.status === 429 && later.status === 200,
      };
    },
  },
  {
    id: '6',
    name: 'a throttled agent: 2,000 MCP resources/read',
    changed: {},
    async run(server, agent) {
      const counts: Counts = {};
      const session = await openMcpSession(agent, server.url, bearer(server));
      const read = (id: number) =>
        JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'resources/read',
          params: { uri: `agent://${server.agentId}/memory` },
        });
      await pool(2000, 10, async (i) =>
        counted(counts, async () => replyCode(await post(agent, `${server.url}/mcp`, read(i + 1), session))),
      );
      const limited = Number(counts.RATE_LIMITED ?? 0);
      return { counts, ok: limited > 0 && limited + Number(counts.OK ?? 0) === 2000 };
    },
  },
];

// ---------------------------------------------------------------- runner

interface Row {
  id: string;
  attack: string;
  settings: Record<string, string>;
  counts: Counts;
  expected: boolean;
  rssMiB: { before: number; peak: number; hwm: number | undefined; after: number };
  health: number | string;
  seconds: number;
}

async function runAttack(attack: Attack): Promise<Row> {
  const started = performance.now();
  const extra = (await attack.setup?.()) ?? {};
  const child = await spawnChild<ServerInfo>('serve-for-bench.ts', {
    ...DEFAULT_LIMITS,
    ...attack.changed,
    ...extra,
  });
  const agent = keepAliveAgent(50);
  try {
    const pid = child.process.pid!;
    await health(child.info.url); // the first request warms the server up before "before"
    await sleep(500);
    const probe = new RssProbe(pid);
    let outcome: Outcome;
    try {
      outcome = await attack.run(child.info, agent);
    } catch (error) {
      outcome = { counts: { error: error instanceof Error ? error.message : String(error) }, ok: false };
    }
    await sleep(1000);
    const rssMiB = probe.stop();
    const status = await health(child.info.url);
    await outcome.cleanup?.();
    return {
      id: attack.id,
      attack: attack.name,
      settings: attack.changed,
      counts: outcome.counts,
      expected: outcome.ok,
      rssMiB,
      health: status,
      seconds: round((performance.now() - started) / 1000, 1),
    };
  } finally {
    agent.destroy();
    await child.stop();
  }
}

const cell = (counts: Counts) =>
  Object.entries(counts)
    .map(([k, v]) => `${k}: ${typeof v === 'number' ? v.toLocaleString('en-US') : v}`)
    .join(' · ');

function markdown(rows: Row[]): string {
  const lines = [
    '| # | attack | settings | result | expected | RSS MiB before → peak → after | VmHWM | /health after |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const settings = Object.entries(r.settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const { before, peak, hwm, after } = r.rssMiB;
    lines.push(
      `| ${r.id} | ${r.attack} | ${settings || 'defaults'} | ${cell(r.counts)} | ${r.expected ? 'yes' : '**no**'} | ${before} → ${peak} → ${after} | ${hwm ?? '–'} | ${r.health} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const only = (process.env.BENCH_ATTACKS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const chosen = ATTACKS.filter((a) => only.length === 0 || only.includes(a.id));
  const started = performance.now();
  const rows: Row[] = [];
  try {
    for (const attack of chosen) {
      process.stdout.write(`${attack.id} ${attack.name} … `);
      const row = await runAttack(attack);
      console.log(`${row.seconds} s`);
      rows.push(row);
    }
  } finally {
    if (seeded) rmSync(seeded.dataDir, { recursive: true, force: true });
  }
  console.log();
  console.log(markdown(rows));
  console.log();
  console.log(
    'One fresh server child per attack; limits are the defaults unless "settings" says otherwise. ' +
      'Peak: RSS sampled every 100 ms; VmHWM: the kernel high-water mark since just before the attack.',
  );
  const file = writeResults('attacks.json', {
    environment: environment(),
    defaults: DEFAULT_LIMITS,
    attacks: rows,
  });
  console.log(`\nresults: ${file} (${round((performance.now() - started) / 1000, 1)} s)`);
  if (rows.some((r) => !r.expected || r.health !== 200)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
