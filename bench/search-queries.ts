/**
 * The search benchmarks' queries (search.bench.ts, pg.bench.ts) over the seed-messages.ts session:
 * one-letter typos of words and phrases the corpus holds, and one exact word, each sent `repeat`
 * times in a row by one client over POST /mcp/tool/search_context.
 */
import type { Agent } from 'node:http';
import { post, round, summarize } from './load.js';

export const TYPO_QUERIES = ['authentcation', 'databse migraton', 'conection pool'];
export const EXACT_QUERY = 'authentication';
/** The query sent first after a (re)start; on SQLite it catches the search index up. */
export const FIRST_QUERY = 'authentcation';
/** What each query means: a result is "on target" when its content contains this. */
const INTENDED: Record<string, string> = {
  authentcation: 'authentication',
  'databse migraton': 'database migration',
  'conection pool': 'connection pool',
  authentication: 'authentication',
};

export interface SearchReply {
  success?: boolean;
  results?: Array<{ message?: { content?: string }; score?: number }>;
  candidates?: number;
  search_time_ms?: number;
}

export type Search = (query: string) => Promise<{ ms: number; reply: SearchReply }>;

/** One search_context call on the server at `baseUrl` (with `extra` arguments), timed from send to last byte. */
export function searcher(
  agent: Agent,
  baseUrl: string,
  token: string,
  sessionId: string,
  extra: Record<string, unknown> = {},
): Search {
  const url = `${baseUrl}/mcp/tool/search_context`;
  const auth = { authorization: `Bearer ${token}` };
  return async (query) => {
    const t = performance.now();
    const res = await post(agent, url, JSON.stringify({ session_id: sessionId, query, ...extra }), auth);
    const ms = performance.now() - t;
    const reply = JSON.parse(res.body) as SearchReply;
    if (res.status !== 200 || reply.success !== true)
      throw new Error(`search_context: ${res.status} ${res.body}`);
    return { ms, reply };
  };
}

export type QueryResult = ReturnType<typeof summarize> & {
  kind: 'typo' | 'exact';
  results: number;
  onTarget: number;
  candidates: number;
  serverMeanMs: number;
};

/** Every query `repeat` times in a row; per query, its latency and what the last reply found. */
export async function measureQueries(search: Search, repeat: number): Promise<Record<string, QueryResult>> {
  return (await measureInterleaved([search], repeat, 1))[0]!;
}

/**
 * The queries on several servers in turn (`rounds` rounds, each server in every round, the order
 * turning), so that a machine that speeds up or slows down during the run affects them alike; per
 * server and query, the latency over all rounds and what the last reply found.
 */
export async function measureInterleaved(
  searches: Search[],
  repeat: number,
  rounds: number,
): Promise<Array<Record<string, QueryResult>>> {
  const all = [...TYPO_QUERIES.map((q) => ['typo', q] as const), ['exact', EXACT_QUERY] as const];
  const state = searches.map(() =>
    Object.fromEntries(
      all.map(([, q]) => [q, { samples: [] as number[], serverMs: 0, last: {} as SearchReply }]),
    ),
  );
  for (let round = 0; round < rounds; round++) {
    const perRound = Math.ceil(repeat / rounds);
    for (let k = 0; k < searches.length; k++) {
      const s = (k + round) % searches.length;
      for (const [, query] of all) {
        const at = state[s]![query]!;
        for (let i = 0; i < perRound && at.samples.length < repeat; i++) {
          const { ms, reply } = await searches[s]!(query);
          at.samples.push(ms);
          at.serverMs += reply.search_time_ms ?? 0;
          at.last = reply;
        }
      }
    }
  }
  return state.map((perQuery) =>
    Object.fromEntries(
      all.map(([kind, query]) => {
        const { samples, serverMs, last } = perQuery[query]!;
        const result: QueryResult = {
          kind,
          ...summarize(samples),
          results: last.results?.length ?? 0,
          onTarget: (last.results ?? []).filter((r) =>
            (r.message?.content ?? '').toLowerCase().includes(INTENDED[query] ?? query),
          ).length,
          candidates: last.candidates ?? 0,
          serverMeanMs: round(serverMs / samples.length),
        };
        return [query, result];
      }),
    ),
  );
}

/** The query rows of a results table: query, kind, n, p50, p90, p99, max, server mean, results, on target, candidates. */
export const QUERY_COLUMNS = [
  'query',
  'kind',
  'n',
  'p50 ms',
  'p90 ms',
  'p99 ms',
  'max ms',
  'server mean ms',
  'results',
  'on target',
  'candidates',
];
export const queryRow = (query: string, r: QueryResult): Array<string | number> => [
  `"${query}"`,
  r.kind,
  r.n,
  r.p50,
  r.p90,
  r.p99,
  r.max,
  r.serverMeanMs,
  r.results,
  r.onTarget,
  r.candidates,
];
