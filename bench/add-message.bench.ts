/**
 * add_message throughput and latency at 100 concurrent clients over four paths, each server in its
 * own child process, interleaved in this one run (bench/bare-baseline.ts has the two baselines):
 *   bare       the minimal stack: node:http, JSON.parse, one prepared better-sqlite3 insert into a
 *              table without secondary indexes, reply — the fastest possible write ("how close is
 *              this to the fastest write?"; the ratios and goals are against it)
 *   same-sql   the same bare server running add_message's whole SQL, each request its own
 *              transaction (session lookup + insert into our schema + audit row): "what does our
 *              server layer cost?" (× same-sql column)
 *   tool-http  POST /mcp/tool/add_message with a Bearer token, on the real server
 *   mcp        MCP Streamable HTTP: 100 sessions (initialize, then tools/call add_message)
 * Goals (issue 10): mcp ≥ 0.5 × bare, tool-http ≥ 0.6 × bare, and the p99 of both ≤ 2 × bare's p99.
 *
 * Env: BENCH_CLIENTS (100), BENCH_WARMUP_MS (2000), BENCH_DURATION_MS (8000), BENCH_PATHS (all, comma list),
 * BENCH_ROUNDS (1; more rounds report the median round per path and the median same-round ratio),
 * BENCH_QUIET_PCT (off; on a shared machine, wait before each path until other load is under this % of a core),
 * BENCH_NODE_FLAGS (extra node flags for the server children, e.g. --cpu-prof),
 * BENCH_COMPARE_TREE (another checkout with node_modules, e.g. the last landed commit in a git worktree:
 * adds the paths tool-http@ref and mcp@ref, served by that tree's bench/serve-for-bench.ts, measured in
 * the same rounds, and a "× ref" column: this tree against it, as the median of same-round ratios).
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import {
  type PathResult,
  addMessageRequests,
  content,
  fail,
  measure,
  startServer,
  LOAD_COLUMNS,
  loadCells,
} from './add-message-load.js';
import { spawnChild } from './child.js';
import {
  PROTOCOL_VERSION,
  environment,
  envNumber,
  initializeRequest,
  table,
  writeResults,
} from './common.js';
import { backgroundLoad, waitForQuiet } from './cpu.js';
import { keepAliveAgent, post, round, rpcMessages } from './load.js';

const CLIENTS = envNumber('BENCH_CLIENTS', 100);
const WARMUP_MS = envNumber('BENCH_WARMUP_MS', 2_000);
const DURATION_MS = envNumber('BENCH_DURATION_MS', 8_000);
const ROUNDS = envNumber('BENCH_ROUNDS', 1);
/** When set, each path first waits (up to 60 s) for the machine's busy CPU to drop under this % of a core. */
const QUIET_PCT = envNumber('BENCH_QUIET_PCT', 0);
const PATHS = (process.env.BENCH_PATHS ?? 'bare,same-sql,tool-http,mcp').split(',').map((p) => p.trim());
/** Throughput against bare, at least. */
const GOALS: Record<string, number> = { 'tool-http': 0.6, mcp: 0.5 };
/** p99 against bare's p99, at most. */
const P99_GOAL = 2;

const loadOptions = { clients: CLIENTS, warmupMs: WARMUP_MS, durationMs: DURATION_MS };

async function benchBare(mode: 'minimal' | 'full'): Promise<PathResult> {
  const child = await spawnChild<{ url: string; sessionId: string }>('./bare-baseline.ts', {
    BARE_MODE: mode,
  });
  try {
    const agent = keepAliveAgent(CLIENTS);
    const target = { url: `${child.info.url}/add_message`, sessionId: child.info.sessionId };
    const result = await measure([child], {
      ...loadOptions,
      ...addMessageRequests(agent, CLIENTS, [target], 'bare add_message'),
    });
    agent.destroy();
    return result;
  } finally {
    await child.stop();
  }
}

/** The server script of this tree, or of BENCH_COMPARE_TREE for the @ref paths. */
const OWN_SERVER = './serve-for-bench.ts';
const COMPARE_TREE = process.env.BENCH_COMPARE_TREE;
const REF_SERVER = COMPARE_TREE === undefined ? undefined : `${COMPARE_TREE}/bench/serve-for-bench.ts`;

async function benchToolHttp(script = OWN_SERVER): Promise<PathResult> {
  const { child, sessionId, auth } = await startServer(script);
  try {
    const agent = keepAliveAgent(CLIENTS);
    const target = { url: `${child.info.url}/mcp/tool/add_message`, sessionId, headers: auth };
    const result = await measure([child], {
      ...loadOptions,
      ...addMessageRequests(agent, CLIENTS, [target], 'tool add_message'),
    });
    agent.destroy();
    return result;
  } finally {
    await child.stop();
  }
}

interface McpClientState {
  headers: Record<string, string>;
  nextId: number;
  calls: number;
}

/** One MCP session over raw HTTP: initialize, then notifications/initialized. */
async function openMcpSession(
  agent: ReturnType<typeof keepAliveAgent>,
  url: string,
  auth: Record<string, string>,
  client: number,
): Promise<McpClientState> {
  const base = { ...auth, accept: 'application/json, text/event-stream' };
  const init = await post(agent, url, initializeRequest(`bench-${client}`), base);
  const sessionHeader = init.headers['mcp-session-id'];
  const reply = rpcMessages(init).find((m) => m.id === 0);
  if (init.status !== 200 || typeof sessionHeader !== 'string' || reply?.result === undefined)
    fail('initialize', init.status, init.body);
  const headers = { ...base, 'mcp-session-id': sessionHeader, 'mcp-protocol-version': PROTOCOL_VERSION };
  const ack = await post(
    agent,
    url,
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    headers,
  );
  if (ack.status !== 202) fail('notifications/initialized', ack.status, ack.body);
  return { headers, nextId: 1, calls: 0 };
}

async function benchMcp(script = OWN_SERVER): Promise<PathResult> {
  const { child, sessionId, auth } = await startServer(script);
  try {
    const agent = keepAliveAgent(CLIENTS);
    const url = `${child.info.url}/mcp`;
    const result = await measure<McpClientState>([child], {
      ...loadOptions,
      setup: (i) => openMcpSession(agent, url, auth, i),
      async request(state, i) {
        const id = state.nextId++;
        const res = await post(
          agent,
          url,
          JSON.stringify({
            jsonrpc: '2.0',
            id,
            method: 'tools/call',
            params: {
              name: 'add_message',
              arguments: { session_id: sessionId, content: content(i, ++state.calls) },
            },
          }),
          state.headers,
        );
        const reply = rpcMessages(res).find((m) => m.id === id) as
          { result?: { isError?: boolean; structuredContent?: { success?: boolean } } } | undefined;
        if (
          res.status !== 200 ||
          reply?.result?.structuredContent?.success !== true ||
          reply.result.isError === true
        )
          fail('tools/call add_message', res.status, res.body);
        return true;
      },
    });
    agent.destroy();
    return result;
  } finally {
    await child.stop();
  }
}

/** Correctness only: the official client makes the same call over Streamable HTTP. */
async function officialClientCheck(): Promise<{ ok: boolean; calls: number; meanMs: number; era?: string }> {
  const { child, sessionId, auth } = await startServer(OWN_SERVER);
  const client = new Client({ name: 'bench-check', version: '1.0.0' });
  try {
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${child.info.url}/mcp`), { requestInit: { headers: auth } }),
    );
    const calls = 20;
    const started = performance.now();
    let lastId = 0;
    for (let n = 1; n <= calls; n++) {
      const result = await client.callTool({
        name: 'add_message',
        arguments: { session_id: sessionId, content: content(0, n) },
      });
      const first = (result.content as Array<{ type: string; text?: string }>)[0];
      const json = JSON.parse(first?.text ?? '{}') as { success?: boolean; message_id?: number };
      if (
        result.isError === true ||
        json.success !== true ||
        typeof json.message_id !== 'number' ||
        json.message_id <= lastId
      )
        throw new Error(
          `official client: unexpected add_message result ${JSON.stringify(result).slice(0, 300)}`,
        );
      lastId = json.message_id;
    }
    const meanMs = round((performance.now() - started) / calls);
    const era = (client as { getProtocolEra?: () => string | undefined }).getProtocolEra?.();
    return { ok: true, calls, meanMs, ...(era !== undefined ? { era } : {}) };
  } finally {
    await client.close().catch(() => undefined);
    await child.stop();
  }
}

/** "≥ 0.6 met, p99 ≤ 2 MISSED": the path's goals against bare, when it has any. */
function goalCell(goal: number | undefined, ratio: number | undefined, p99: number | undefined): string {
  if (goal === undefined) return '';
  const throughput = `≥ ${goal} ${(ratio ?? 0) >= goal ? 'met' : 'MISSED'}`;
  return `${throughput}, p99 ≤ ${P99_GOAL} ${p99 !== undefined && p99 <= P99_GOAL ? 'met' : 'MISSED'}`;
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
};

async function main(): Promise<void> {
  const started = performance.now();
  console.log(
    `add_message benchmark: ${CLIENTS} clients, ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured per path, ${ROUNDS} round(s)`,
  );
  const background = await backgroundLoad();
  if (background !== undefined) console.log(`background load before start: ${background}% of a core`);
  const check = await officialClientCheck();
  console.log(
    `official @modelcontextprotocol/client: ${check.calls} add_message calls OK (mean ${check.meanMs} ms, sequential)`,
  );

  const benches: Record<string, () => Promise<PathResult>> = {
    bare: () => benchBare('minimal'),
    'same-sql': () => benchBare('full'),
    'tool-http': () => benchToolHttp(),
    mcp: () => benchMcp(),
    ...(REF_SERVER !== undefined
      ? { 'tool-http@ref': () => benchToolHttp(REF_SERVER), 'mcp@ref': () => benchMcp(REF_SERVER) }
      : {}),
  };
  if (REF_SERVER !== undefined) {
    // Each @ref path runs right after its own, so a pair sees the same machine.
    for (const name of ['tool-http', 'mcp']) {
      const at = PATHS.indexOf(name);
      if (at >= 0) PATHS.splice(at + 1, 0, `${name}@ref`);
    }
    console.log(`comparing with ${COMPARE_TREE} (paths @ref)`);
  }
  for (const name of PATHS)
    if (benches[name] === undefined)
      throw new Error(`unknown path ${name}; use ${Object.keys(benches).join(',')}`);

  const rounds: Array<Record<string, PathResult>> = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const results: Record<string, PathResult> = {};
    // Each round starts one path later, so no path always runs first (or right after another).
    const order = PATHS.map((_, i) => PATHS[(i + round - 1) % PATHS.length]!);
    for (const name of order) {
      if (QUIET_PCT > 0) await waitForQuiet(QUIET_PCT, 60_000);
      process.stdout.write(`  ${ROUNDS > 1 ? `round ${round} ` : ''}${name} … `);
      const r = (results[name] = await benches[name]!());
      const cpu = r.cpu
        ? `, server ${r.cpu.serverUsPerRequest} µs CPU/req, other load ${r.cpu.otherCorePct}% of a core`
        : '';
      const delay = r.loopDelay
        ? `, event-loop delay p99 ${r.loopDelay.p99} ms (max ${r.loopDelay.max})${
            r.loopDelay.gc
              ? `, GC ${r.loopDelay.gc.minor} minor ${r.loopDelay.gc.minorMs} ms + ${r.loopDelay.gc.major} major ${r.loopDelay.gc.majorMs} ms`
              : ''
          }`
        : '';
      console.log(
        `${r.rps} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms${cpu}${delay}${r.errors > 0 ? `, ${r.errors} errors (${r.firstError})` : ''}`,
      );
    }
    rounds.push(results);
  }

  // Per path, the round with the median throughput; ratios are medians of same-round ratios.
  const runs: Record<string, PathResult> = {};
  const ratios: Record<string, number> = {};
  /** Throughput against the same-SQL baseline, and p99 against bare's p99 (medians of same-round ratios). */
  const vsSameSql: Record<string, number> = {};
  const p99Ratios: Record<string, number> = {};
  /** This tree's path against the same path of BENCH_COMPARE_TREE, median of same-round ratios. */
  const vsRef: Record<string, number> = {};
  for (const name of PATHS) {
    const all = rounds.map((r) => r[name]!);
    const mid = median(all.map((r) => r.rps));
    runs[name] = all.find((r) => r.rps === mid)!;
    if (PATHS.includes('bare')) {
      ratios[name] = round(median(rounds.map((r) => r[name]!.rps / r.bare!.rps)), 3);
      p99Ratios[name] = round(median(rounds.map((r) => r[name]!.p99 / r.bare!.p99)), 2);
    }
    if (PATHS.includes('same-sql'))
      vsSameSql[name] = round(median(rounds.map((r) => r[name]!.rps / r['same-sql']!.rps)), 3);
    if (PATHS.includes(`${name}@ref`))
      vsRef[name] = round(median(rounds.map((r) => r[name]!.rps / r[`${name}@ref`]!.rps)), 3);
  }

  console.log();
  console.log(
    table(
      [
        ...LOAD_COLUMNS,
        'srv µs CPU/req',
        'loop delay p99 ms',
        'srv CPU %',
        'gen CPU %',
        'other CPU %',
        '× bare',
        '× same-sql',
        'p99 × bare',
        '× ref',
        'goal',
      ],
      Object.entries(runs).map(([name, r]) => [
        ...loadCells(name, r),
        r.cpu?.serverUsPerRequest ?? '-',
        r.loopDelay?.p99 ?? '-',
        r.cpu?.serverCorePct ?? '-',
        r.cpu?.generatorCorePct ?? '-',
        r.cpu?.otherCorePct ?? '-',
        ratios[name] ?? '-',
        vsSameSql[name] ?? '-',
        p99Ratios[name] ?? '-',
        vsRef[name] ?? '-',
        goalCell(GOALS[name], ratios[name], p99Ratios[name]),
      ]),
    ),
  );
  const noisy = Object.entries(runs).filter(([, r]) => (r.cpu?.otherCorePct ?? 0) > 15);
  if (noisy.length > 0)
    console.log(
      `\nwarning: other processes used > 15% of a core during ${noisy.map(([n]) => n).join(', ')}; figures are disturbed`,
    );
  const file = writeResults('add-message.json', {
    environment: environment(),
    settings: {
      clients: CLIENTS,
      warmupMs: WARMUP_MS,
      durationMs: DURATION_MS,
      rounds: ROUNDS,
      quietPct: QUIET_PCT,
      nodeFlags: process.env.BENCH_NODE_FLAGS ?? '',
    },
    backgroundLoadPct: background,
    officialClientCheck: check,
    runs,
    ratios,
    vsSameSql,
    p99Ratios,
    ...(REF_SERVER !== undefined ? { compareTree: COMPARE_TREE, vsRef } : {}),
    goals: { throughputVsBare: GOALS, p99VsBare: P99_GOAL },
    ...(ROUNDS > 1 ? { rounds } : {}),
  });
  console.log(`\nresults: ${file} (${round((performance.now() - started) / 1000, 1)} s)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
