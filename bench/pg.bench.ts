/**
 * The PostgreSQL dialect against SQLite and against bare baselines, all measured in this one run,
 * every server a child process (bench/serve-for-bench.ts: the real app, configured from its
 * environment like `serve`), every PostgreSQL case on a schema of its own (bench/pg-nodes.ts).
 * Nodes of one case share DATABASE_URL, API_KEY, ADMIN_API_KEY and JWT_SECRET_KEY.
 *
 *   add       (here) add_message throughput and latency over POST /mcp/tool/add_message, BENCH_CLIENTS
 *             concurrent clients on one session: SQLite 1 node, PostgreSQL 1 node, PostgreSQL 2
 *             nodes (clients split across both); × baseline against the bare insert of the same row
 *             on the same database at the same concurrency (bare-baseline.ts, bare-pg-baseline.ts).
 *   delivery  (pg-delivery.ts) a writer on node 1 adds BENCH_RATE messages/s for BENCH_DELIVERY_SECONDS; one
 *             WebSocket subscriber on node 1 (same node) and one on node 2 (cross node, woken by
 *             LISTEN/NOTIFY): receive − send on one clock. Goal: p99 ≤ 50 ms across nodes.
 *   search    (pg-search.ts) search_context over a BENCH_MESSAGES-message session seeded straight into the
 *             database (seed-messages.ts): PostgreSQL (pg_trgm) against SQLite (FTS5 trigram), and
 *             PostgreSQL against its bare candidate query sent with `pg`.
 *
 * Env: BENCH_PARTS (add,delivery,search), BENCH_CLIENTS (16), BENCH_WARMUP_MS (2000),
 * BENCH_DURATION_MS (6000), BENCH_RATE (50), BENCH_DELIVERY_SECONDS (10), BENCH_MESSAGES (100000),
 * BENCH_SEARCH_REPEAT (10: a PostgreSQL typo search takes seconds here), DATABASE_POOL_SIZE (10, the servers' and the bare baseline's pool),
 * TEST_DATABASE_URL (the PostgreSQL database whose schemas are used; default as in the test suite).
 */
import {
  type AddMessageTarget,
  type PathResult,
  addMessageRequests,
  measure,
  startServer,
  LOAD_COLUMNS,
  loadCells,
} from './add-message-load.js';
import { type Child, spawnChild } from './child.js';
import { type ServerInfo, environment, envNumber, table, writeResults } from './common.js';
import { backgroundLoad } from './cpu.js';
import { keepAliveAgent, round } from './load.js';
import { GOAL_P99_MS, benchDelivery } from './pg-delivery.js';
import { POOL_SIZE, SERVER, SHARED, pgEnv, stopAll, withSchema } from './pg-nodes.js';
import { benchSearch } from './pg-search.js';

const PARTS = (process.env.BENCH_PARTS ?? 'add,delivery,search').split(',').map((p) => p.trim());
const CLIENTS = envNumber('BENCH_CLIENTS', 16);
const WARMUP_MS = envNumber('BENCH_WARMUP_MS', 2_000);
const DURATION_MS = envNumber('BENCH_DURATION_MS', 6_000);
const RATE = envNumber('BENCH_RATE', 50);
const DELIVERY_SECONDS = envNumber('BENCH_DELIVERY_SECONDS', 10);
const MESSAGES = envNumber('BENCH_MESSAGES', 100_000);
const REPEAT = envNumber('BENCH_SEARCH_REPEAT', 10);

/* ---------------------------------------------------------------- 1. add_message throughput */

const loadOptions = { clients: CLIENTS, warmupMs: WARMUP_MS, durationMs: DURATION_MS };

async function load(children: Array<Child<unknown>>, targets: AddMessageTarget[]): Promise<PathResult> {
  const agent = keepAliveAgent(CLIENTS);
  try {
    return await measure(children, {
      ...loadOptions,
      ...addMessageRequests(agent, CLIENTS, targets, 'add_message'),
    });
  } finally {
    agent.destroy();
  }
}

const toolTarget = (info: ServerInfo, sessionId: string): AddMessageTarget => ({
  url: `${info.url}/mcp/tool/add_message`,
  sessionId,
  headers: { authorization: `Bearer ${info.token}` },
});

async function sqliteBare(): Promise<PathResult> {
  const child = await spawnChild<{ url: string; sessionId: string }>('./bare-baseline.ts');
  try {
    return await load([child], [{ url: `${child.info.url}/add_message`, sessionId: child.info.sessionId }]);
  } finally {
    await child.stop();
  }
}

async function sqliteNode(): Promise<PathResult> {
  const { child, sessionId } = await startServer(SERVER, SHARED);
  try {
    return await load([child], [toolTarget(child.info, sessionId)]);
  } finally {
    await child.stop();
  }
}

/** The server migrates the schema and creates the session, then stops; the bare insert takes over. */
const pgBare = () =>
  withSchema(async (url) => {
    const server = await startServer(SERVER, pgEnv(url));
    await server.child.stop();
    const child = await spawnChild<{ url: string; sessionId: string }>('./bare-pg-baseline.ts', {
      BARE_DATABASE_URL: url,
      BARE_SESSION_ID: server.sessionId,
      BARE_POOL_SIZE: String(POOL_SIZE),
    });
    try {
      return await load([child], [{ url: `${child.info.url}/add_message`, sessionId: server.sessionId }]);
    } finally {
      await child.stop();
    }
  });

const pgNodes = (count: 1 | 2) =>
  withSchema(async (url) => {
    const first = await startServer(SERVER, pgEnv(url));
    let second: Child<ServerInfo> | undefined;
    try {
      const targets = [toolTarget(first.child.info, first.sessionId)];
      if (count === 2) {
        second = await spawnChild<ServerInfo>(SERVER, pgEnv(url, 'bench-agent-2'));
        targets.push(toolTarget(second.info, first.sessionId));
      }
      return await load(second ? [first.child, second] : [first.child], targets);
    } finally {
      await stopAll([first.child, second]);
    }
  });

const ADD_PATHS: Array<{ name: string; baseline?: string; run: () => Promise<PathResult> }> = [
  { name: 'sqlite bare insert', run: sqliteBare },
  { name: 'sqlite 1 node', baseline: 'sqlite bare insert', run: sqliteNode },
  { name: 'pg bare insert', run: pgBare },
  { name: 'pg 1 node', baseline: 'pg bare insert', run: () => pgNodes(1) },
  { name: 'pg 2 nodes', baseline: 'pg bare insert', run: () => pgNodes(2) },
];

async function benchAdd(): Promise<Record<string, unknown>> {
  console.log(
    `\n1. add_message: ${CLIENTS} clients on one session, ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured per path`,
  );
  const runs: Record<string, PathResult & { vsBaseline?: number }> = {};
  for (const path of ADD_PATHS) {
    process.stdout.write(`  ${path.name} … `);
    const r = await path.run();
    const base = path.baseline === undefined ? undefined : runs[path.baseline];
    runs[path.name] = base === undefined ? r : { ...r, vsBaseline: round(r.rps / base.rps, 3) };
    console.log(
      `${r.rps} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms` +
        (r.errors > 0 ? `, ${r.errors} errors (first: ${r.firstError})` : ''),
    );
  }
  const sqliteNodeRps = runs['sqlite 1 node']?.rps;
  console.log();
  console.log(
    table(
      [
        ...LOAD_COLUMNS,
        'srv CPU %',
        'srv µs CPU/req',
        'other CPU % (pg too)',
        '× baseline',
        'baseline',
        '× sqlite 1 node',
      ],
      ADD_PATHS.map(({ name, baseline }) => {
        const r = runs[name]!;
        return [
          ...loadCells(name, r),
          r.cpu?.serverCorePct ?? '-',
          r.cpu?.serverUsPerRequest ?? '-',
          r.cpu?.otherCorePct ?? '-',
          r.vsBaseline ?? '-',
          baseline ?? '',
          name.startsWith('pg ') && name !== 'pg bare insert' && sqliteNodeRps
            ? round(r.rps / sqliteNodeRps, 3)
            : '',
        ];
      }),
    ),
  );
  console.log(
    '× baseline: req/s over the bare insert of the same row on the same database, same clients. ' +
      '"other" is CPU used by neither the server children nor this generator: PostgreSQL itself, and other work.',
  );
  return runs;
}
/* ---------------------------------------------------------------- main */

async function main(): Promise<void> {
  const started = performance.now();
  const unknown = PARTS.filter((p) => !['add', 'delivery', 'search'].includes(p));
  if (unknown.length > 0)
    throw new Error(`unknown BENCH_PARTS ${unknown.join(',')}; use add,delivery,search`);
  console.log(
    `PostgreSQL benchmark (parts: ${PARTS.join(', ')}; ${environment().cpus} cores, shared with PostgreSQL)`,
  );
  const background = await backgroundLoad();
  if (background !== undefined) console.log(`background load before start: ${background}% of a core`);
  const results: Record<string, unknown> = {};
  if (PARTS.includes('add')) results.add = await benchAdd();
  if (PARTS.includes('delivery'))
    results.delivery = await benchDelivery({ rate: RATE, seconds: DELIVERY_SECONDS });
  if (PARTS.includes('search')) results.search = await benchSearch({ messages: MESSAGES, repeat: REPEAT });
  const file = writeResults('pg.json', {
    environment: environment(),
    settings: {
      clients: CLIENTS,
      warmupMs: WARMUP_MS,
      durationMs: DURATION_MS,
      rate: RATE,
      deliverySeconds: DELIVERY_SECONDS,
      messages: MESSAGES,
      repeat: REPEAT,
      poolSize: POOL_SIZE,
      deliveryGoalP99Ms: GOAL_P99_MS,
    },
    backgroundLoadPct: background,
    ...results,
  });
  console.log(`\nresults: ${file} (${round((performance.now() - started) / 1000, 1)} s)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
