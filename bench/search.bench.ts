/**
 * search_context over a 100,000-message session, via POST /mcp/tool/search_context, one client,
 * sequential — first alone in the database, then with 1,000,000 messages in ten other sessions
 * (docs/search-scoping.md). The server runs in a child process on a DATA_DIR migrated by a first
 * start and filled directly with better-sqlite3 while it is down; a copy of it with the session
 * alone is kept before the other sessions are added. The first search on the copy waits for the
 * search index to catch up (the 100k), while GET /health is sent in a loop (its latency is how long
 * the catch-up held the server's event loop); the 1M of the other sessions are caught up in this
 * process, under perf_hooks.monitorEventLoopDelay, before their server starts. Once both servers
 * have settled, the queries go to each in turn, round after round, so the ratio between them is of
 * one run on a machine whose speed drifts. Recall at 10 of typo queries is measured against a
 * brute-force ranking of the session.
 *
 * Env: BENCH_MESSAGES (100000), BENCH_OTHER_MESSAGES (1000000; the "other sessions" phase),
 * BENCH_SEARCH_REPEAT (200 per query and server), BENCH_SEARCH_ROUNDS (4), BENCH_RECALL_QUERIES (10),
 * BENCH_KEEP_DATA=1 keeps the data dirs,
 * BENCH_QUIET_PCT (off; on a shared machine, wait up to 60 s for other load to fall under this % of a core).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Child, spawnChild } from './child.js';
import { type ServerInfo, environment, envNumber, table, writeResults } from './common.js';
import { backgroundLoad, waitForIdleProcess, waitForQuiet } from './cpu.js';
import { keepAliveAgent, post, round } from './load.js';
import { catchUpInProcess, recallAt10, typoQueries, whileProbing } from './search-probes.js';
import {
  FIRST_QUERY,
  QUERY_COLUMNS,
  TYPO_QUERIES,
  type QueryResult,
  type Search,
  measureInterleaved,
  queryRow,
  searcher,
} from './search-queries.js';
import { seedSqlite } from './seed-messages.js';

const MESSAGES = envNumber('BENCH_MESSAGES', 100_000);
const OTHER = envNumber('BENCH_OTHER_MESSAGES', 1_000_000);
const OTHER_SESSIONS = 10;
const REPEAT = envNumber('BENCH_SEARCH_REPEAT', 200);
const RECALL_QUERIES = envNumber('BENCH_RECALL_QUERIES', 10);
const ROUNDS = envNumber('BENCH_SEARCH_ROUNDS', 4);

interface Phase {
  label: string;
  catchUp: Awaited<ReturnType<typeof whileProbing>>;
  queries: Record<string, QueryResult>;
}

async function main(): Promise<void> {
  const started = performance.now();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'scs-search-bench-'));
  const file = path.join(dataDir, 'shared-context.db');
  const agent = keepAliveAgent(2);
  try {
    // 1. First start: migrations, and a real session created through the tool.
    const server = await spawnChild<ServerInfo>('./serve-for-bench.ts', { DATA_DIR: dataDir });
    const created = await post(
      agent,
      `${server.info.url}/mcp/tool/create_session`,
      JSON.stringify({ purpose: 'search benchmark' }),
      { authorization: `Bearer ${server.info.token}` },
    );
    const sessionId = (JSON.parse(created.body) as { session_id?: string }).session_id;
    if (created.status !== 200 || sessionId === undefined)
      throw new Error(`create_session: ${created.status} ${created.body}`);
    const agentId = server.info.agentId;
    await server.stop();

    const quietPct = envNumber('BENCH_QUIET_PCT', 0);
    const servers: Array<Child<ServerInfo>> = [];
    const phases: Phase[] = [];
    /** Start a server on `dir`, catch its index up (the first search, /health probed meanwhile), let it settle. */
    const open = async (label: string, dir: string): Promise<Search> => {
      const background = quietPct > 0 ? await waitForQuiet(quietPct, 60_000) : await backgroundLoad();
      if (background !== undefined)
        console.log(`background load before "${label}": ${background}% of a core`);
      const child = await spawnChild<ServerInfo>('./serve-for-bench.ts', { DATA_DIR: dir });
      servers.push(child);
      const search = searcher(agent, child.info.url, child.info.token, sessionId);
      const catchUp = await whileProbing(agent, child.info.url, () => search(FIRST_QUERY));
      console.log(
        `${label}: first search (catches the index up) ${catchUp.ms} ms; GET /health meanwhile: n ${catchUp.probes.n}, p50 ${catchUp.probes.p50} ms, p99 ${catchUp.probes.p99} ms, max ${catchUp.probes.max} ms`,
      );
      // The queries measure the steady state: after a catch-up the index merges its new segments in
      // the background (bounded steps, never waited for by a search); the wait is reported.
      const settled = await waitForIdleProcess(child.process.pid, 5, 120_000);
      console.log(
        `${label}: the server's background work after the catch-up (index merges) took ${round(settled / 1000, 1)} s`,
      );
      phases.push({ label, catchUp, queries: {} });
      return search;
    };

    // 2. The session alone (kept as a copy when the other sessions are added to the database).
    const insertMs = seedSqlite(file, sessionId, agentId, MESSAGES);
    console.log(`search benchmark: ${MESSAGES} messages inserted in ${round(insertMs / 1000, 1)} s`);
    const aloneDir = OTHER > 0 ? mkdtempSync(path.join(tmpdir(), 'scs-search-alone-')) : dataDir;
    if (OTHER > 0) cpSync(dataDir, aloneDir, { recursive: true });

    // 3. The same session, with OTHER messages in other sessions (their own vocabularies).
    let bulk: Awaited<ReturnType<typeof catchUpInProcess>> | undefined;
    if (OTHER > 0) {
      let otherMs = 0;
      for (let s = 0; s < OTHER_SESSIONS; s++) {
        const other = `session_${(0xbe000 + s).toString(16).padStart(16, '0')}`;
        otherMs += seedSqlite(file, other, agentId, Math.round(OTHER / OTHER_SESSIONS), {
          seed: s + 1,
          createSession: true,
        });
      }
      console.log(
        `${OTHER} messages in ${OTHER_SESSIONS} other sessions inserted in ${round(otherMs / 1000, 1)} s`,
      );
      // The bulk catch-up of those, in this process, its event loop watched by monitorEventLoopDelay.
      bulk = await catchUpInProcess(file);
      console.log(
        `bulk catch-up of ${bulk.messages} messages (the session's and the others'): ${round(bulk.ms / 1000, 1)} s (${bulk.messagesPerSecond}/s); event-loop delay p50 ${bulk.loopDelay.p50} ms, p99 ${bulk.loopDelay.p99} ms, max ${bulk.loopDelay.max} ms`,
      );
    }

    // 4. Both servers, measured in turn (BENCH_SEARCH_ROUNDS rounds), so the ratio is of one run.
    let recall: Awaited<ReturnType<typeof recallAt10>> | undefined;
    try {
      const searches = [await open(`${MESSAGES} alone`, aloneDir)];
      if (OTHER > 0) searches.push(await open(`${MESSAGES} + ${OTHER} elsewhere`, dataDir));
      const measured = await measureInterleaved(searches, REPEAT, OTHER > 0 ? ROUNDS : 1);
      measured.forEach((queries, i) => (phases[i]!.queries = queries));
      const last = servers.at(-1)!;
      const ranked = searcher(agent, last.info.url, last.info.token, sessionId, {
        fuzzy_threshold: 0,
        limit: 10,
      });
      const queries = [...TYPO_QUERIES, ...typoQueries(RECALL_QUERIES)];
      recall = await recallAt10(
        file,
        sessionId,
        { agentId, agentType: 'generic', isAdmin: false },
        queries,
        ranked,
      );
    } finally {
      for (const child of servers) await child.stop();
      if (aloneDir !== dataDir && process.env.BENCH_KEEP_DATA !== '1')
        rmSync(aloneDir, { recursive: true, force: true });
    }
    agent.destroy();

    console.log();
    console.log(
      table(
        ['phase', ...QUERY_COLUMNS],
        phases.flatMap((p) => Object.entries(p.queries).map(([q, r]) => [p.label, ...queryRow(q, r)])),
      ),
    );
    const typo = (p: Phase, key: 'p50' | 'p99') =>
      Math.max(
        ...Object.values(p.queries)
          .filter((q) => q.kind === 'typo')
          .map((q) => q[key]),
      );
    console.log();
    const summary = phases.map((p) => [
      p.label,
      typo(p, 'p50'),
      typo(p, 'p99'),
      p.catchUp.ms,
      p.catchUp.probes.p99,
      p.catchUp.probes.max,
    ]);
    console.log(
      table(
        [
          'phase',
          'worst typo p50 ms',
          'worst typo p99 ms',
          'first search (catch-up) ms',
          '/health p99 ms during it',
          '/health max ms',
        ],
        summary,
      ),
    );
    const [alone, crowded] = phases;
    const ratio =
      alone !== undefined && crowded !== undefined
        ? {
            p50: round(typo(crowded, 'p50') / typo(alone, 'p50')),
            p99: round(typo(crowded, 'p99') / typo(alone, 'p99')),
          }
        : undefined;
    if (ratio !== undefined)
      console.log(
        `\nratio with ${OTHER} elsewhere / alone (worst typo query): p50 ×${ratio.p50}, p99 ×${ratio.p99}`,
      );
    if (bulk !== undefined)
      console.log(
        `bulk catch-up (${bulk.messages} messages, in process): ${bulk.messagesPerSecond} messages/s, event-loop delay p99 ${bulk.loopDelay.p99} ms, max ${bulk.loopDelay.max} ms`,
      );
    if (recall !== undefined)
      console.log(
        `recall@10 against brute force (${Object.keys(recall.perQuery).length} typo queries): mean ${recall.mean}, min ${recall.min}`,
      );
    const out = writeResults('search.json', {
      environment: environment(),
      settings: {
        messages: MESSAGES,
        otherMessages: OTHER,
        otherSessions: OTHER_SESSIONS,
        repeat: REPEAT,
        client: 'POST /mcp/tool/search_context, 1 client, sequential',
      },
      bulkInsertMs: round(insertMs),
      phases,
      bulkCatchUp: bulk,
      ratio,
      recall,
    });
    console.log(`results: ${out} (${round((performance.now() - started) / 1000, 1)} s)`);
  } finally {
    if (process.env.BENCH_KEEP_DATA === '1') console.log(`data kept in ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
