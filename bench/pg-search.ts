/**
 * Part 3 of pg.bench.ts: typo search over a large session, seeded straight into the database
 * (seed-messages.ts), with the queries of search-queries.ts: PostgreSQL (pg_trgm) against SQLite
 * (FTS5 trigram), and the PostgreSQL server against one pg_trgm query that scores the typo's word
 * similarity against every candidate message (the approach before the word vocabulary of migration
 * 0008), sent with `pg`: what correcting the words first saves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startServer } from './add-message-load.js';
import { spawnChild } from './child.js';
import { type ServerInfo, table } from './common.js';
import { keepAliveAgent, round, summarize } from './load.js';
import { SERVER, SHARED, pgEnv, withSchema } from './pg-nodes.js';
import {
  FIRST_QUERY,
  QUERY_COLUMNS,
  type QueryResult,
  type Search,
  TYPO_QUERIES,
  measureQueries,
  queryRow,
  searcher,
} from './search-queries.js';
import { seedPostgres, seedSqlite } from './seed-messages.js';

interface SearchRun {
  seedMs: number;
  firstMs: number;
  queries: Record<string, QueryResult>;
}

/** Called after each measured server search, with the query and the session. */
type Alongside = (query: string, sessionId: string, agentId: string) => Promise<void>;

/**
 * First start: migrations and the session; then `seed` fills it — with the server stopped and
 * started again when `restart` (SQLite: its first search then catches the index up), else while it
 * runs (PostgreSQL indexes in the inserting transaction) — and the queries run, each followed by
 * `alongside` when given (a baseline that should see the same cache and the same load).
 */
async function searchRun(
  repeat: number,
  env: Record<string, string>,
  seed: (sessionId: string, agentId: string) => Promise<number>,
  restart: boolean,
  alongside?: Alongside,
): Promise<SearchRun> {
  const first = await startServer(SERVER, env);
  let child = first.child;
  const agent = keepAliveAgent(1);
  try {
    const { sessionId } = first;
    const { agentId } = child.info;
    if (restart) await child.stop();
    const seedMs = await seed(sessionId, agentId);
    if (restart) child = await spawnChild<ServerInfo>(SERVER, env);
    const search = searcher(agent, child.info.url, child.info.token, sessionId);
    const firstMs = round((await search(FIRST_QUERY)).ms);
    const measured: Search =
      alongside === undefined
        ? search
        : async (query) => {
            const result = await search(query);
            await alongside(query, sessionId, agentId);
            return result;
          };
    return { seedMs, firstMs, queries: await measureQueries(measured, repeat) };
  } finally {
    agent.destroy();
    await child.stop();
  }
}

/**
 * The leanest way to the same candidates on PostgreSQL: the pg_trgm query the server sends for a
 * typo (pg-search-index.ts: metadata included, the visibility rule of a non-admin agent, 200
 * candidates), straight through `pg`. Each typo query runs right after the server's same query.
 */
async function openBareSearch(url: string): Promise<{
  alongside: Alongside;
  results(): Record<string, QueryResult>;
  close(): Promise<void>;
}> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const samples = new Map<string, number[]>();
  const rows = new Map<string, number>();
  return {
    async alongside(query, sessionId, agentId) {
      if (!TYPO_QUERIES.includes(query)) return;
      const t = performance.now();
      await client.query('BEGIN');
      await client.query(`SELECT set_config('pg_trgm.word_similarity_threshold', '0.3', true)`);
      const result = await client.query(
        `SELECT messages.* FROM messages
         WHERE session_id = $1 AND (visibility = 'public' OR (visibility = 'private' AND sender = $2)
           OR (visibility = 'agent_only' AND sender_type = 'generic'))
           AND ($3 <% content OR $3 <% metadata)
         ORDER BY greatest(word_similarity($3, content), word_similarity($3, metadata)) DESC, id DESC
         LIMIT 200`,
        [sessionId, agentId, query],
      );
      await client.query('COMMIT');
      samples.set(query, [...(samples.get(query) ?? []), performance.now() - t]);
      rows.set(query, result.rowCount ?? 0);
    },
    results: () =>
      Object.fromEntries(
        [...samples].map(([query, ms]) => {
          const n = rows.get(query) ?? 0;
          const r: QueryResult = {
            kind: 'typo',
            ...summarize(ms),
            results: n,
            onTarget: 0,
            candidates: n,
            serverMeanMs: 0,
          };
          return [query, r];
        }),
      ),
    close: () => client.end(),
  };
}

const worstTypo = (queries: Record<string, QueryResult>): QueryResult =>
  Object.values(queries)
    .filter((q) => q.kind === 'typo')
    .reduce((a, b) => (b.p99 > a.p99 ? b : a));

export async function benchSearch({
  messages,
  repeat,
}: {
  messages: number;
  repeat: number;
}): Promise<Record<string, unknown>> {
  console.log(
    `\n3. search_context over ${messages} messages, each query ${repeat} times, 1 client, sequential`,
  );
  let bare: Record<string, QueryResult> = {};
  const postgres = await withSchema(async (url) => {
    const baseline = await openBareSearch(url);
    try {
      const run = await searchRun(
        repeat,
        pgEnv(url),
        (sessionId, agentId) => seedPostgres(url, sessionId, agentId, messages),
        false,
        baseline.alongside,
      );
      bare = baseline.results();
      return run;
    } finally {
      await baseline.close();
    }
  });
  console.log(
    `  postgres: seeded in ${round(postgres.seedMs / 1000, 1)} s (with VACUUM ANALYZE); first search ${postgres.firstMs} ms`,
  );
  const dataDir = mkdtempSync(path.join(tmpdir(), 'scs-pg-bench-'));
  const sqlite = await searchRun(
    repeat,
    { ...SHARED, DATA_DIR: dataDir },
    async (sessionId, agentId) =>
      seedSqlite(path.join(dataDir, 'shared-context.db'), sessionId, agentId, messages),
    true,
  ).finally(() => rmSync(dataDir, { recursive: true, force: true }));
  console.log(
    `  sqlite: seeded in ${round(sqlite.seedMs / 1000, 1)} s; first search (catches the index up) ${sqlite.firstMs} ms`,
  );

  console.log();
  console.log(
    table(
      ['dialect', ...QUERY_COLUMNS, '× sqlite p50', '× sqlite p99'],
      [
        ...Object.entries(sqlite.queries).map(([q, r]) => ['sqlite', ...queryRow(q, r), '', '']),
        ...Object.entries(postgres.queries).map(([q, r]) => {
          const s = sqlite.queries[q]!;
          return ['postgres', ...queryRow(q, r), round(r.p50 / s.p50, 2), round(r.p99 / s.p99, 2)];
        }),
      ],
    ),
  );
  console.log(
    '\npostgres server against one word-similarity query over whole messages (pg_trgm, the approach before the word vocabulary; straight through pg, each right after the same server query):',
  );
  console.log(
    table(
      [
        'query',
        'bare p50 ms',
        'bare p99 ms',
        'bare rows',
        'server p50 ms',
        'server p99 ms',
        '× bare p50',
        '× bare p99',
      ],
      TYPO_QUERIES.map((q) => {
        const b = bare[q]!;
        const r = postgres.queries[q]!;
        return [
          `"${q}"`,
          b.p50,
          b.p99,
          b.results,
          r.p50,
          r.p99,
          round(r.p50 / b.p50, 2),
          round(r.p99 / b.p99, 2),
        ];
      }),
    ),
  );
  const pgWorst = worstTypo(postgres.queries);
  const sqliteWorst = worstTypo(sqlite.queries);
  console.log(
    `\nworst typo p99: postgres ${pgWorst.p99} ms, sqlite ${sqliteWorst.p99} ms (× ${round(pgWorst.p99 / sqliteWorst.p99, 2)})`,
  );
  return {
    messages: messages,
    repeat: repeat,
    postgres,
    sqlite,
    postgresBare: bare,
  };
}
