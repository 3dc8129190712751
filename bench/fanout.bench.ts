/**
 * Fan-out: one writer agent adds messages to a session that N other agents subscribed to, over
 * WebSocket (/ws/{agent_id}, {"type":"subscribe"}) and over MCP resource subscriptions (2025-era
 * Streamable HTTP sessions: resources/subscribe session://{id}, notifications on the GET SSE
 * stream). Reports delivery latency (subscriber receive − writer send, one clock) and the server's
 * RSS. Goal (from the issue): p99 < 100 ms at 1,000 subscribers.
 *
 * Every (transport, N) gets a fresh server child (bench/serve-for-bench.ts). The writer and the
 * subscribers run in this process by default; BENCH_FANOUT_WORKERS=k moves the subscribers into k
 * forked processes (their clocks are aligned by an IPC ping; the offset is reported). All clients
 * are raw (ws, node:http) so the figures are the server's, not an SDK client's.
 *
 * Env: BENCH_FANOUT_N (100,1000), BENCH_FANOUT_TRANSPORTS (websocket,mcp), BENCH_FANOUT_MESSAGES (50),
 * BENCH_FANOUT_WARMUP (5 messages, not counted), BENCH_FANOUT_GAP_MS (20), BENCH_FANOUT_WORKERS (0),
 * BENCH_FANOUT_ROUNDS (3; each case is reported from its median-p99 round), BENCH_NODE_FLAGS (extra node flags for the server child, e.g. "--cpu-prof --cpu-prof-dir=…"),
 * BENCH_COMPARE_TREE (another checkout with node_modules, e.g. the last landed commit in a git worktree:
 * every case also runs on that tree's bench/serve-for-bench.ts, as "<transport>@ref", in the same rounds).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Child, spawnChild } from './child.js';
import { type ServerInfo, environment, envNumber, table, writeResults } from './common.js';
import { type CpuUsage, cpuBetween, sampleCpu } from './cpu.js';
import { keepAliveAgent, post, round, summarize } from './load.js';
import {
  CONNECT_CONCURRENCY,
  type PoolSpec,
  type Subscriber,
  SubscriberPool,
  type Transport,
  fail,
  inPool,
  now,
  paced,
  sendIndexed,
  waitForReceipts,
} from './subscriber-pool.js';

const list = (name: string, fallback: string): string[] =>
  (process.env[name] ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

const SIZES = list('BENCH_FANOUT_N', '100,1000').map(Number);
const TRANSPORTS = list('BENCH_FANOUT_TRANSPORTS', 'websocket,mcp') as Transport[];
const MESSAGES = envNumber('BENCH_FANOUT_MESSAGES', 50);
const WARMUP = Number(process.env.BENCH_FANOUT_WARMUP ?? 5);
const GAP_MS = envNumber('BENCH_FANOUT_GAP_MS', 20);
const WORKERS = Number(process.env.BENCH_FANOUT_WORKERS ?? 0);
const ROUNDS = envNumber('BENCH_FANOUT_ROUNDS', 3);
const GOAL_N = 1000;
const GOAL_P99_MS = 100;
/** Give up waiting for deliveries this long after the last send, or after this long without progress. */
const DRAIN_MAX_MS = 20_000;
const DRAIN_IDLE_MS = 3_000;

/* ---------------------------------------------------------------- worker processes (optional) */

type ToWorker =
  | { cmd: 'connect'; spec: PoolSpec }
  | { cmd: 'clock' }
  | { cmd: 'progress' }
  | { cmd: 'collect' }
  | { cmd: 'close' };

type FromWorker =
  | { type: 'connected' }
  | { type: 'clock'; at: number }
  | { type: 'progress'; received: number }
  | {
      type: 'collected';
      receipts: Float64Array;
      duplicates: number;
      unexpected: number;
      firstError?: string;
      rssBytes: number;
    }
  | { type: 'error'; message: string };

function runWorker(): void {
  let pool: SubscriberPool | undefined;
  const reply = (message: FromWorker) => process.send?.(message);
  process.on('message', (message: ToWorker) => {
    switch (message.cmd) {
      case 'connect':
        pool = new SubscriberPool(message.spec);
        pool.connect().then(
          () => reply({ type: 'connected' }),
          (error: unknown) => reply({ type: 'error', message: String(error) }),
        );
        break;
      case 'clock':
        reply({ type: 'clock', at: now() });
        break;
      case 'progress':
        reply({ type: 'progress', received: pool?.received ?? 0 });
        break;
      case 'collect':
        reply({
          type: 'collected',
          receipts: pool?.receipts ?? new Float64Array(0),
          duplicates: pool?.duplicates ?? 0,
          unexpected: pool?.unexpected ?? 0,
          ...(pool?.firstError !== undefined ? { firstError: pool.firstError } : {}),
          rssBytes: process.memoryUsage().rss,
        });
        break;
      case 'close':
        pool?.close();
        process.disconnect();
        break;
    }
  });
}

/** A forked subscriber process, driven over IPC. */
class WorkerPool {
  private readonly child: ChildProcess;
  /** Add to a worker timestamp to get this process's clock. */
  offsetMs = 0;

  constructor() {
    this.child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, FANOUT_WORKER: '1' },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private ask<T extends FromWorker['type']>(
    message: ToWorker,
    type: T,
  ): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (reply: FromWorker) => {
        if (reply.type === 'error') {
          this.child.off('message', onMessage);
          reject(new Error(`worker: ${reply.message}`));
        } else if (reply.type === type) {
          this.child.off('message', onMessage);
          resolve(reply as Extract<FromWorker, { type: T }>);
        }
      };
      this.child.on('message', onMessage);
      this.child.send(message);
    });
  }

  async connect(spec: PoolSpec): Promise<void> {
    await this.ask({ cmd: 'connect', spec }, 'connected');
    // Clock alignment: the ping with the shortest round trip, worker time taken at its midpoint.
    let best = Infinity;
    for (let i = 0; i < 20; i++) {
      const sent = now();
      const { at } = await this.ask({ cmd: 'clock' }, 'clock');
      const back = now();
      if (back - sent < best) {
        best = back - sent;
        this.offsetMs = (sent + back) / 2 - at;
      }
    }
  }

  async received(): Promise<number> {
    return (await this.ask({ cmd: 'progress' }, 'progress')).received;
  }

  collect(): Promise<Extract<FromWorker, { type: 'collected' }>> {
    return this.ask({ cmd: 'collect' }, 'collected');
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send({ cmd: 'close' });
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(kill);
  }
}

/* ---------------------------------------------------------------- the benchmark */

/** Resident set of a process, from /proc (Linux), in MB. */
function memoryMb(pid: number | undefined): { rss: number; peak: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { rss: round(kb('VmRSS') / 1024, 1), peak: round(kb('VmHWM') / 1024, 1) };
  } catch {
    return undefined;
  }
}

/** CPU time (ms) of a process, from /proc/<pid>/stat (Linux reports it in USER_HZ = 100 ticks/s). */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

interface RunResult {
  round: number;
  /** The transport, with "@ref" when the server was BENCH_COMPARE_TREE's. */
  transport: string;
  subscribers: number;
  messages: number;
  warmupMessages: number;
  expected: number;
  delivered: number;
  duplicates: number;
  unexpected: number;
  latencyMs: ReturnType<typeof summarize>;
  /** Per message: latency of its first receipt, and last − first receipt (the time to reach all N). */
  firstReceiptMs: ReturnType<typeof summarize>;
  spreadMs: ReturnType<typeof summarize>;
  /** The writer's mean interval between measured sends: GAP_MS unless its replies took longer. */
  sendIntervalMs: number;
  /** The writer's add_message round trips (send → HTTP reply), ms. */
  writeMs: ReturnType<typeof summarize>;
  /** Server RSS (MB): started + session, after the N subscribers connected, after delivery; and its peak. */
  serverRssMb: { before: number; connected: number; after: number; peak: number } | undefined;
  generatorRssMb: number;
  /**
   * Server and generator (writer + subscribers, workers included) CPU from the first measured send
   * until delivery ended, % of one core; server µs per delivery.
   */
  cpu: CpuUsage | undefined;
  setupSeconds: { tokens: number; connect: number };
  workers: number;
  workerClockOffsetMs?: number[];
  firstError?: string;
}

const COMPARE_TREE = process.env.BENCH_COMPARE_TREE;
/** Every case: each transport, and each again on BENCH_COMPARE_TREE's server when set. */
const CASES = TRANSPORTS.flatMap((t) => (COMPARE_TREE === undefined ? [t] : [t, `${t}@ref`]));

async function runOne(roundNo: number, label: string, n: number): Promise<RunResult> {
  const ref = label.endsWith('@ref');
  const transport = label.replace('@ref', '') as Transport;
  const child: Child<ServerInfo> = await spawnChild<ServerInfo>(
    ref ? `${COMPARE_TREE}/bench/serve-for-bench.ts` : './serve-for-bench.ts',
  );
  const pid = child.process.pid;
  if (new URL(child.info.url).hostname !== '127.0.0.1') {
    await child.stop();
    throw new Error(`refusing to load ${child.info.url}: only 127.0.0.1 is benchmarked`);
  }
  const writerAgent = keepAliveAgent(1);
  const auth = { authorization: `Bearer ${child.info.token}` };
  const workers: WorkerPool[] = [];
  let local: SubscriberPool | undefined;
  try {
    const created = await post(
      writerAgent,
      `${child.info.url}/mcp/tool/create_session`,
      JSON.stringify({ purpose: `fan-out benchmark, ${n} ${transport} subscribers` }),
      auth,
    );
    const sessionId = (JSON.parse(created.body) as { session_id?: string }).session_id;
    if (created.status !== 200 || sessionId === undefined) fail('create_session', created);
    const before = memoryMb(pid);

    // One token per subscriber agent, from the API key, over the HTTP tool route.
    let started = performance.now();
    const subscribers: Subscriber[] = Array.from({ length: n }, (_, i) => ({
      agentId: `fan-${transport}-${i}`,
      token: '',
    }));
    const tokenAgent = keepAliveAgent(CONNECT_CONCURRENCY);
    await inPool(subscribers, CONNECT_CONCURRENCY, async (sub) => {
      const res = await post(
        tokenAgent,
        `${child.info.url}/mcp/tool/authenticate_agent`,
        JSON.stringify({ agent_id: sub.agentId, agent_type: 'generic', api_key: child.info.apiKey }),
      );
      const token = (JSON.parse(res.body) as { token?: string }).token;
      if (res.status !== 200 || token === undefined) fail('authenticate_agent', res);
      sub.token = token;
    });
    tokenAgent.destroy();
    const tokenSeconds = round((performance.now() - started) / 1000);

    const total = WARMUP + MESSAGES;
    started = performance.now();
    const base = { transport, url: child.info.url, sessionId, total };
    if (WORKERS > 0) {
      for (let w = 0; w < WORKERS; w++) workers.push(new WorkerPool());
      await Promise.all(
        workers.map((worker, w) =>
          worker.connect({ ...base, subscribers: subscribers.filter((_, i) => i % WORKERS === w) }),
        ),
      );
    } else {
      local = new SubscriberPool({ ...base, subscribers });
      await local.connect();
    }
    const connectSeconds = round((performance.now() - started) / 1000);
    // Let the connection burst settle (GC, socket buffers) before the clock starts.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const connected = memoryMb(pid);

    // The writer: add_message one at a time, one every GAP_MS (later if a reply takes longer).
    const sentAt = new Float64Array(total);
    const writeMs: number[] = [];
    let cpuStart: ReturnType<typeof sampleCpu>;
    let workerCpuStart = 0;
    await paced(total, GAP_MS, async (k) => {
      if (k === WARMUP) {
        cpuStart = sampleCpu(pid);
        workerCpuStart = workers.reduce((sum, w) => sum + processCpuMs(w.pid), 0);
      }
      const at = (sentAt[k] = await sendIndexed(writerAgent, child.info.url, auth, sessionId, k));
      if (k >= WARMUP) writeMs.push(now() - at);
    });

    // Wait until every subscriber has every message, or delivery stalls.
    const expectedAll = n * total;
    const received = async () =>
      local
        ? local.received
        : (await Promise.all(workers.map((w) => w.received()))).reduce((a, b) => a + b, 0);
    await waitForReceipts(received, expectedAll, DRAIN_MAX_MS, DRAIN_IDLE_MS);
    const cpuEnd = sampleCpu(pid);
    const workerCpuMs = workers.reduce((sum, w) => sum + processCpuMs(w.pid), 0) - workerCpuStart;
    const after = memoryMb(pid);

    // Gather receipts (worker clocks shifted onto this one) and compute latencies of measured messages.
    const latencies: number[] = [];
    let delivered = 0;
    let duplicates = 0;
    let unexpected = 0;
    let firstError: string | undefined;
    let generatorRss = process.memoryUsage().rss;
    // Per message: its first and last receipt (latency of the first subscriber; fan-out spread).
    const first = new Float64Array(total).fill(Infinity);
    const lastAt = new Float64Array(total).fill(-Infinity);
    const take = (receipts: Float64Array, offset: number) => {
      for (let s = 0; s < receipts.length / total; s++) {
        for (let k = WARMUP; k < total; k++) {
          const at = receipts[s * total + k]!;
          if (Number.isNaN(at)) continue;
          delivered++;
          const latency = at + offset - sentAt[k]!;
          latencies.push(latency);
          first[k] = Math.min(first[k]!, latency);
          lastAt[k] = Math.max(lastAt[k]!, latency);
        }
      }
    };
    if (local) {
      take(local.receipts, 0);
      ({ duplicates, unexpected, firstError } = local);
    } else {
      for (const worker of workers) {
        const c = await worker.collect();
        take(c.receipts, worker.offsetMs);
        duplicates += c.duplicates;
        unexpected += c.unexpected;
        firstError ??= c.firstError;
        generatorRss += c.rssBytes;
      }
    }
    let cpu = cpuBetween(cpuStart, cpuEnd, delivered);
    if (cpu && cpuStart && cpuEnd && workers.length > 0) {
      // The subscriber workers are part of the load generator, not "other" load.
      const pct = round((workerCpuMs / (cpuEnd.at - cpuStart.at)) * 100, 1);
      cpu = {
        ...cpu,
        generatorCorePct: round(cpu.generatorCorePct + pct, 1),
        otherCorePct: round(Math.max(0, cpu.otherCorePct - pct), 1),
      };
    }
    const measured = Array.from({ length: MESSAGES }, (_, i) => WARMUP + i).filter((k) =>
      Number.isFinite(first[k]!),
    );
    return {
      round: roundNo,
      transport: label,
      subscribers: n,
      messages: MESSAGES,
      warmupMessages: WARMUP,
      expected: n * MESSAGES,
      delivered,
      duplicates,
      unexpected,
      latencyMs: summarize(latencies),
      firstReceiptMs: summarize(measured.map((k) => first[k]!)),
      spreadMs: summarize(measured.map((k) => lastAt[k]! - first[k]!)),
      writeMs: summarize(writeMs),
      sendIntervalMs: round((sentAt[total - 1]! - sentAt[WARMUP]!) / Math.max(1, MESSAGES - 1)),
      serverRssMb:
        before && connected && after
          ? { before: before.rss, connected: connected.rss, after: after.rss, peak: after.peak }
          : undefined,
      generatorRssMb: round(generatorRss / 1024 / 1024, 1),
      cpu,
      setupSeconds: { tokens: tokenSeconds, connect: connectSeconds },
      workers: WORKERS,
      ...(WORKERS > 0 ? { workerClockOffsetMs: workers.map((w) => round(w.offsetMs, 3)) } : {}),
      ...(firstError !== undefined ? { firstError } : {}),
    };
  } finally {
    local?.close();
    await Promise.all(workers.map((w) => w.close()));
    writerAgent.destroy();
    await child.stop();
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  for (const t of TRANSPORTS)
    if (t !== 'websocket' && t !== 'mcp') throw new Error(`unknown transport ${t}; use websocket,mcp`);
  for (const n of SIZES) if (!Number.isSafeInteger(n) || n < 1) throw new Error(`bad subscriber count ${n}`);
  if (!Number.isSafeInteger(WARMUP) || WARMUP < 0 || !Number.isSafeInteger(WORKERS) || WORKERS < 0)
    throw new Error('BENCH_FANOUT_WARMUP and BENCH_FANOUT_WORKERS must be non-negative integers');
  console.log(
    `fan-out benchmark: ${MESSAGES} messages (+${WARMUP} warm-up) every ${GAP_MS} ms to N ∈ {${SIZES.join(', ')}} ` +
      `subscribers over ${TRANSPORTS.join(', ')}; subscribers ${WORKERS > 0 ? `in ${WORKERS} worker processes` : 'in this process'}`,
  );
  // Rounds are interleaved (every case once per round) so a disturbance spreads over the cases.
  const all: RunResult[] = [];
  for (let roundNo = 1; roundNo <= ROUNDS; roundNo++) {
    for (const transport of CASES) {
      for (const n of SIZES) {
        process.stdout.write(`  ${ROUNDS > 1 ? `round ${roundNo} ` : ''}${transport} × ${n} … `);
        const r = await runOne(roundNo, transport, n);
        all.push(r);
        console.log(
          `${r.delivered}/${r.expected} delivered, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, ` +
            `server RSS ${r.serverRssMb?.before ?? '?'} → ${r.serverRssMb?.connected ?? '?'} MB ` +
            `(setup: tokens ${r.setupSeconds.tokens} s, connect ${r.setupSeconds.connect} s)` +
            (r.cpu && r.cpu.otherCorePct > 15 ? `; other load ${r.cpu.otherCorePct}% of a core` : '') +
            (r.firstError !== undefined ? `; error: ${r.firstError}` : ''),
        );
      }
    }
  }
  // Per case, the round with the median p99 (the lower middle one for an even count).
  const roundsOf = (r: RunResult) =>
    all.filter((x) => x.transport === r.transport && x.subscribers === r.subscribers);
  const runs = CASES.flatMap((transport) =>
    SIZES.map((n) => {
      const cases = all
        .filter((x) => x.transport === transport && x.subscribers === n)
        .sort((a, b) => a.latencyMs.p99 - b.latencyMs.p99);
      return cases[Math.floor((cases.length - 1) / 2)]!;
    }),
  );

  const goalOf = (r: RunResult) =>
    r.subscribers === GOAL_N
      ? r.delivered === r.expected && r.latencyMs.p99 < GOAL_P99_MS
        ? 'met'
        : 'MISSED'
      : '';
  console.log();
  console.log(
    table(
      [
        'transport',
        'N',
        'delivered',
        'p50 ms',
        'p99 ms',
        ...(ROUNDS > 1 ? ['p99 by round'] : []),
        'max ms',
        'spread p50 ms',
        'writer p50 ms',
        'sent every ms',
        'RSS before MB',
        'RSS connected MB',
        'RSS after MB',
        'srv CPU %',
        'srv µs/delivery',
        'gen CPU %',
        'other CPU %',
        `p99 < ${GOAL_P99_MS} @ ${GOAL_N}`,
      ],
      runs.map((r) => [
        r.transport,
        r.subscribers,
        `${r.delivered}/${r.expected}`,
        r.latencyMs.p50,
        r.latencyMs.p99,
        ...(ROUNDS > 1
          ? [
              roundsOf(r)
                .map((x) => Math.round(x.latencyMs.p99))
                .join('/'),
            ]
          : []),
        r.latencyMs.max,
        r.spreadMs.p50,
        r.writeMs.p50,
        r.sendIntervalMs,
        r.serverRssMb?.before ?? '-',
        r.serverRssMb?.connected ?? '-',
        r.serverRssMb?.after ?? '-',
        r.cpu?.serverCorePct ?? '-',
        r.cpu?.serverUsPerRequest ?? '-',
        r.cpu?.generatorCorePct ?? '-',
        r.cpu?.otherCorePct ?? '-',
        goalOf(r),
      ]),
    ),
  );
  const noisy = all.filter((r) => (r.cpu?.otherCorePct ?? 0) > 15);
  if (noisy.length > 0) {
    const which = noisy.map(
      (r) => `${ROUNDS > 1 ? `round ${r.round} ` : ''}${r.transport} × ${r.subscribers}`,
    );
    const reported = noisy.filter((r) => runs.includes(r)).length;
    console.log(
      `\nwarning: other processes used > 15% of a core during ${which.join(', ')}; ` +
        (reported > 0 ? `${reported} of the reported rows are disturbed` : 'no reported row is affected'),
    );
  }
  console.log(
    `\n${ROUNDS > 1 ? `Each row is the round with the median p99 of ${ROUNDS}. ` : ''}` +
      'latency = subscriber receive − writer send (same clock), over all N × messages; CPU % is of one core, ' +
      'from the first measured send until delivery ended. The machine has ' +
      `${environment().cpus} cores shared by the server, the writer and the subscribers.`,
  );
  const file = writeResults('fanout.json', {
    environment: environment(),
    settings: {
      sizes: SIZES,
      transports: TRANSPORTS,
      messages: MESSAGES,
      warmupMessages: WARMUP,
      gapMs: GAP_MS,
      workers: WORKERS,
      rounds: ROUNDS,
      nodeFlags: process.env.BENCH_NODE_FLAGS ?? '',
    },
    goal: { subscribers: GOAL_N, p99Ms: GOAL_P99_MS },
    runs: runs.map((r) => ({ ...r, goal: goalOf(r) || undefined })),
    ...(ROUNDS > 1 ? { rounds: all } : {}),
  });
  console.log(`\nresults: ${file} (${round((performance.now() - started) / 1000, 1)} s)`);
}

if (process.env.FANOUT_WORKER === '1') runWorker();
else
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
