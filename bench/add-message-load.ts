/**
 * add_message under load (add-message.bench.ts, pg.bench.ts): a server child with a fresh session,
 * the requests of N concurrent clients (against a bare baseline's /add_message or the real tool
 * route), and runLoad with the server children's CPU over the measured window.
 */
import type { Agent } from 'node:http';
import { type Child, spawnChild } from './child.js';
import type { ServerInfo } from './common.js';
import { type CpuUsage, cpuBetween, sampleCpu } from './cpu.js';
import { type LoadOptions, type LoadResult, keepAliveAgent, post, round, runLoad } from './load.js';
import type { LoopDelay } from './loop-delay.js';

/** A realistic blackboard message (~230 characters), a little different per client and request. */
export const content = (client: number, n: number): string =>
  `[client ${client} #${n}] Finding: the connection pool in the authentication service is exhausted under load; ` +
  'retries pile up behind the database migration lock. Proposal: cap retries at 3 with jittered backoff.';

export type PathResult = LoadResult & { cpu?: CpuUsage; loopDelay?: LoopDelay };

export function fail(what: string, status: number, body: string): never {
  throw new Error(`${what}: HTTP ${status} ${body.slice(0, 300)}`);
}

/**
 * runLoad, plus the server children's CPU over the measured window (several children: their sum;
 * "other" is what neither they nor this generator used — a database server included), and their
 * event-loop delay over it (several: the one with the worst p99; absent for a child that does not
 * answer, e.g. another tree's server).
 */
export async function measure<S>(
  children: Array<Child<unknown>>,
  options: LoadOptions<S>,
): Promise<PathResult> {
  const pids = children.map((c) => c.process.pid);
  let start: Array<ReturnType<typeof sampleCpu>> = [];
  let end: Array<ReturnType<typeof sampleCpu>> = [];
  let delays: Promise<Array<LoopDelay | undefined>> = Promise.resolve([]);
  const result = await runLoad({
    ...options,
    onWindowStart: () => {
      for (const child of children) child.tell('loop-delay:reset');
      start = pids.map(sampleCpu);
    },
    onWindowEnd: () => {
      end = pids.map(sampleCpu);
      delays = Promise.all(
        children.map((child) =>
          child
            .ask<{ loopDelay: LoopDelay }>('loop-delay:report')
            .then((r) => r.loopDelay)
            .catch(() => undefined),
        ),
      );
    },
  });
  const loopDelay = (await delays)
    .filter((d): d is LoopDelay => d !== undefined)
    .sort((a, b) => b.p99 - a.p99)[0];
  const withDelay = loopDelay === undefined ? result : { ...result, loopDelay };
  const each = pids.map((_, i) => cpuBetween(start[i], end[i], result.requests));
  if (each.length === 0 || each.some((c) => c === undefined)) return withDelay;
  const [first, ...rest] = each as CpuUsage[];
  const restPct = rest.reduce((sum, c) => sum + c.serverCorePct, 0);
  const cpu: CpuUsage = {
    serverCorePct: round(first!.serverCorePct + restPct, 1),
    serverUsPerRequest: rest.reduce((sum, c) => sum + c.serverUsPerRequest, first!.serverUsPerRequest),
    generatorCorePct: first!.generatorCorePct,
    otherCorePct: round(Math.max(0, first!.otherCorePct - restPct), 1),
  };
  return { ...withDelay, cpu };
}

/** A server child (bench/serve-for-bench.ts or another tree's) and a fresh session on it. */
export async function startServer(
  script: string,
  env: Record<string, string> = {},
): Promise<{ child: Child<ServerInfo>; sessionId: string; auth: Record<string, string> }> {
  const child = await spawnChild<ServerInfo>(script, env);
  const auth = { authorization: `Bearer ${child.info.token}` };
  const agent = keepAliveAgent(1);
  const res = await post(
    agent,
    `${child.info.url}/mcp/tool/create_session`,
    JSON.stringify({ purpose: 'add_message benchmark' }),
    auth,
  ).finally(() => agent.destroy());
  const body = JSON.parse(res.body) as { success?: boolean; session_id?: string };
  if (res.status !== 200 || body.success !== true || body.session_id === undefined) {
    await child.stop();
    fail('create_session', res.status, res.body);
  }
  return { child, sessionId: body.session_id, auth };
}

export interface AddMessageTarget {
  /** The bare baseline's `/add_message` or the server's `/mcp/tool/add_message`. */
  url: string;
  sessionId: string;
  headers?: Record<string, string>;
}

/**
 * The requests of `clients` clients, client i posting to `targets[i % targets.length]` (so two
 * nodes share the clients evenly); a reply is good when it is HTTP 200 with `"success":true`.
 */
export function addMessageRequests(
  agent: Agent,
  clients: number,
  targets: AddMessageTarget[],
  what: string,
): Pick<LoadOptions<undefined>, 'setup' | 'request'> {
  const counters = new Array<number>(clients).fill(0);
  return {
    setup: async () => undefined,
    async request(_state, i) {
      const n = (counters[i] = (counters[i] ?? 0) + 1);
      const target = targets[i % targets.length]!;
      const res = await post(
        agent,
        target.url,
        JSON.stringify({ session_id: target.sessionId, content: content(i, n) }),
        target.headers,
      );
      if (res.status !== 200 || !res.body.startsWith('{"success":true')) fail(what, res.status, res.body);
      return true;
    },
  };
}

/** The first columns of every load table: a path's throughput, latency and errors. */
export const LOAD_COLUMNS = ['path', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors'];

/** A path's cells under LOAD_COLUMNS. */
export const loadCells = (name: string, r: LoadResult): Array<string | number> => [
  name,
  r.rps,
  r.p50,
  r.p90,
  r.p99,
  r.max,
  r.errors,
];
