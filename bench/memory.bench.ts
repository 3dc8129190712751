/**
 * Memory of the server process (VmRSS from /proc/<pid>/status), as users start it:
 *
 *   npm-start  `npm start` as package.json says today; the server process, and the whole process tree
 *              (npm, sh, a tsx wrapper if any: shared pages counted in each, so the tree is an upper bound)
 *   tsx        `tsx src/cli/main.ts serve` (what `npm start` ran before docs/memory.md)
 *   launcher   `node scripts/start.mjs serve` (transpile with esbuild, then run from dist/)
 *   built      `npm run build`, then `node dist/cli/main.js serve`
 *   bare       the leanest process doing a similar job: `node -e` with node:http and one prepared
 *              better-sqlite3 insert (the row every ratio is taken against)
 *
 * Each server gets a fresh DATA_DIR and a free port; RSS is read idle after start, after one MCP
 * session (initialize + initialized over Streamable HTTP, as bench/add-message.bench.ts opens them),
 * with BENCH_SESSIONS (1,000) sessions open, and after all of them were closed (DELETE /mcp).
 *
 *   npm run bench:memory
 *   BENCH_MEMORY_VARIANTS=built,bare BENCH_SESSIONS=200 BENCH_SKIP_BUILD=1 npm run bench:memory
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { type Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  PROTOCOL_VERSION,
  envNumber,
  environment,
  initializeRequest,
  table,
  writeResults,
} from './common.js';
import { keepAliveAgent, post, rpcMessages, round } from './load.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SESSIONS = envNumber('BENCH_SESSIONS', 1_000);
/** How long a process is left alone before its idle figure is read. */
const IDLE_MS = envNumber('BENCH_IDLE_MS', 5_000);
/** After a step (sessions opened or closed): time for timers and GC to settle. */
const SETTLE_MS = envNumber('BENCH_SETTLE_MS', 3_000);
const CONCURRENCY = 20;
const VARIANTS = (process.env.BENCH_MEMORY_VARIANTS ?? 'npm-start,tsx,launcher,built,bare').split(',');

const SERVER_ENV = {
  HTTP_HOST: '127.0.0.1',
  HTTP_PORT: '0',
  LOG_LEVEL: 'warn',
  RATE_LIMIT_PER_SECOND: '1000000',
  RATE_LIMIT_BURST: '1000000',
  RATE_LIMIT_ANONYMOUS_PER_SECOND: '1000000',
  RATE_LIMIT_ANONYMOUS_BURST: '1000000',
  MAX_MCP_SESSIONS: String(SESSIONS + 10),
};

interface Memory {
  rssMb: number;
  hwmMb: number;
}

/** VmRSS and VmHWM (peak) of a process, in MB. */
function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rssMb: round(kb('VmRSS') / 1024, 1), hwmMb: round(kb('VmHWM') / 1024, 1) };
}

/** The process and its descendants (from /proc/<pid>/task/<tid>/children). */
function processTree(pid: number): number[] {
  const pids = [pid];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return pids;
  }
  for (const task of tasks) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    for (const child of children.split(/\s+/).filter(Boolean)) pids.push(...processTree(Number(child)));
  }
  return pids;
}

const treeRssMb = (pid: number): number =>
  round(
    processTree(pid).reduce((sum, p) => {
      try {
        return sum + memoryOf(p).rssMb;
      } catch {
        return sum;
      }
    }, 0),
    1,
  );

/** The median of three readings half a second apart (RSS moves a little with every timer). */
async function settledRss(pid: number): Promise<Memory> {
  const readings: Memory[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(500);
    readings.push(memoryOf(pid));
  }
  readings.sort((a, b) => a.rssMb - b.rssMb);
  return readings[1] as Memory;
}

interface Started {
  child: ChildProcess;
  /** The process serving HTTP (a wrapper's child for npm start and tsx). */
  serverPid: number;
  url: string;
  apiKey?: string;
  dataDir: string;
}

async function waitFor<T>(what: string, read: () => T | undefined, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${ms / 1000} s`);
    await sleep(100);
  }
}

/** Starts one of our servers with `command`; DATA_DIR/server.json names its pid and URL once it listens. */
async function startServer(command: string, args: string[]): Promise<Started> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'scs-memory-'));
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...SERVER_ENV, DATA_DIR: dataDir },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const info = await waitFor(`${command} ${args.join(' ')}`, () => {
    if (exited) throw new Error(`${command} ${args.join(' ')} exited before it listened`);
    try {
      return JSON.parse(readFileSync(path.join(dataDir, 'server.json'), 'utf8')) as {
        pid: number;
        url: string;
      };
    } catch {
      return undefined;
    }
  });
  const keys = JSON.parse(readFileSync(path.join(dataDir, 'keys.json'), 'utf8')) as { api_key?: string };
  return { child, serverPid: info.pid, url: info.url, apiKey: keys.api_key, dataDir };
}

/** The bare baseline: node:http, better-sqlite3, one prepared insert, JSON in and out. */
const BARE = `
const http = require('node:http');
const Database = require('better-sqlite3');
const db = new Database(require('node:path').join(process.env.DATA_DIR, 'bare.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, content TEXT NOT NULL, created_at INTEGER NOT NULL)');
const insert = db.prepare('INSERT INTO messages (session_id, content, created_at) VALUES (?, ?, ?)');
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString());
      const row = insert.run(String(body.session_id), String(body.content), Date.now());
      const out = JSON.stringify({ success: true, message_id: Number(row.lastInsertRowid) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    } catch (error) {
      res.writeHead(400);
      res.end(String(error));
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  require('node:fs').writeFileSync(require('node:path').join(process.env.DATA_DIR, 'server.json'),
    JSON.stringify({ pid: process.pid, url: 'http://127.0.0.1:' + server.address().port }));
  require('node:fs').writeFileSync(require('node:path').join(process.env.DATA_DIR, 'keys.json'), '{}');
});
process.on('SIGTERM', () => { server.close(); db.close(); process.exit(0); });
`;

function send(agent: Agent, url: string, method: string, headers: Record<string, string>): Promise<number> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: target.hostname, port: target.port, path: target.pathname, method, headers },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** initialize + notifications/initialized; returns the session id. */
async function openSession(agent: Agent, url: string, apiKey: string, n: number): Promise<string> {
  const base = {
    'x-api-key': apiKey,
    'x-agent-id': `memory-bench-${n % 50}`,
    accept: 'application/json, text/event-stream',
  };
  const init = await post(agent, url, initializeRequest(`memory-bench-${n}`), base);
  const id = init.headers['mcp-session-id'];
  if (init.status !== 200 || typeof id !== 'string' || rpcMessages(init)[0]?.result === undefined) {
    throw new Error(`initialize answered ${init.status}: ${init.body.slice(0, 300)}`);
  }
  const ack = await post(
    agent,
    url,
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    { ...base, 'mcp-session-id': id, 'mcp-protocol-version': PROTOCOL_VERSION },
  );
  if (ack.status !== 202) throw new Error(`notifications/initialized answered ${ack.status}`);
  return id;
}

async function inParallel(count: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

async function stop(started: Started): Promise<void> {
  const { child } = started;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    // npm and tsx pass SIGTERM on; the server pid is signalled too in case a wrapper does not.
    child.kill('SIGTERM');
    try {
      process.kill(started.serverPid, 'SIGTERM');
    } catch {
      // already gone
    }
    const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(kill);
  }
  await sleep(300);
  rmSync(started.dataDir, { recursive: true, force: true });
}

interface VariantResult {
  variant: string;
  command: string;
  idle: Memory;
  idleTreeMb?: number;
  firstSession?: Memory;
  sessions?: Memory;
  closed?: Memory;
  perSessionKb?: number;
  openSeconds?: number;
}

async function measureVariant(variant: string, command: string, args: string[]): Promise<VariantResult> {
  const started = await startServer(command, args);
  try {
    await sleep(IDLE_MS);
    const result: VariantResult = {
      variant,
      command: [command === process.execPath ? 'node' : command, ...args].join(' '),
      idle: await settledRss(started.serverPid),
    };
    if (started.child.pid !== started.serverPid && started.child.pid !== undefined) {
      result.idleTreeMb = treeRssMb(started.child.pid);
    }
    if (variant === 'bare') return result;
    const agent = keepAliveAgent(CONCURRENCY);
    const url = `${started.url}/mcp`;
    const apiKey = started.apiKey ?? '';
    const ids: string[] = [await openSession(agent, url, apiKey, 0)];
    await sleep(SETTLE_MS);
    result.firstSession = await settledRss(started.serverPid);
    const opening = performance.now();
    await inParallel(SESSIONS - 1, async (i) => {
      ids.push(await openSession(agent, url, apiKey, i + 1));
    });
    result.openSeconds = round((performance.now() - opening) / 1000, 1);
    await sleep(SETTLE_MS);
    result.sessions = await settledRss(started.serverPid);
    result.perSessionKb = round(
      ((result.sessions.rssMb - result.firstSession.rssMb) * 1024) / Math.max(1, SESSIONS - 1),
      1,
    );
    await inParallel(ids.length, async (i) => {
      const status = await send(agent, url, 'DELETE', {
        'x-api-key': apiKey,
        'x-agent-id': `memory-bench-${i % 50}`,
        'mcp-session-id': ids[i] as string,
        'mcp-protocol-version': PROTOCOL_VERSION,
      });
      if (status !== 200 && status !== 204) throw new Error(`DELETE /mcp answered ${status}`);
    });
    agent.destroy();
    await sleep(SETTLE_MS);
    result.closed = await settledRss(started.serverPid);
    return result;
  } finally {
    await stop(started);
  }
}

async function main(): Promise<void> {
  const node = process.execPath;
  const tsxCli = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const results: VariantResult[] = [];
  let build: string | undefined;
  for (const variant of VARIANTS) {
    process.stderr.write(`memory: ${variant}…\n`);
    if (variant === 'npm-start') results.push(await measureVariant(variant, 'npm', ['start', '--silent']));
    else if (variant === 'tsx')
      results.push(await measureVariant(variant, node, [tsxCli, 'src/cli/main.ts', 'serve']));
    else if (variant === 'launcher')
      results.push(await measureVariant(variant, node, ['scripts/start.mjs', 'serve']));
    else if (variant === 'built') {
      if (process.env.BENCH_SKIP_BUILD === undefined) {
        // tsc emits even when a type error elsewhere makes it exit non-zero: that is reported, not fatal.
        try {
          execFileSync(node, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
            cwd: ROOT,
            stdio: 'inherit',
          });
          build = 'tsc -p tsconfig.build.json';
        } catch {
          build = 'tsc -p tsconfig.build.json (exited non-zero; dist/ as emitted)';
        }
      }
      results.push(await measureVariant(variant, node, ['dist/cli/main.js', 'serve']));
    } else if (variant === 'bare') results.push(await measureVariant(variant, node, ['-e', BARE]));
    else throw new Error(`unknown variant ${variant} (npm-start, tsx, launcher, built, bare)`);
  }

  const bare = results.find((r) => r.variant === 'bare')?.idle.rssMb;
  const ratio = (mb: number | undefined) => (mb !== undefined && bare ? `×${round(mb / bare, 2)}` : '');
  const mb = (m: Memory | undefined) => (m === undefined ? '' : m.rssMb);
  console.log(
    `\nRSS of the server process, MB (${SESSIONS} MCP sessions; ratio: idle to the bare baseline)\n`,
  );
  console.log(
    table(
      [
        'variant',
        'idle',
        'ratio',
        'tree',
        '1 session',
        `${SESSIONS} sessions`,
        'KB/session',
        'closed',
        'peak',
      ],
      results.map((r) => [
        r.variant,
        r.idle.rssMb,
        ratio(r.idle.rssMb),
        r.idleTreeMb ?? '',
        mb(r.firstSession),
        mb(r.sessions),
        r.perSessionKb ?? '',
        mb(r.closed),
        r.closed?.hwmMb ?? r.idle.hwmMb,
      ]),
    ),
  );
  console.log(
    '\ntree: the whole process tree of the command (npm, sh, tsx wrapper), shared pages counted in each.',
  );
  const file = writeResults('memory.json', {
    ...environment(),
    sessions: SESSIONS,
    idleMs: IDLE_MS,
    settleMs: SETTLE_MS,
    build,
    bareIdleMb: bare,
    results,
  });
  console.log(`\nresults: ${file}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
