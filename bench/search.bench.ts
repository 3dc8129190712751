/**
 * search_context latency over a 100,000-message session, via POST /mcp/tool/search_context, one
 * client, sequential. The server runs in a child process on a DATA_DIR that was migrated by a first
 * start and then filled directly with better-sqlite3; the first search after the restart catches
 * the search index up (100k messages) and is reported separately.
 *
 * Env: BENCH_MESSAGES (100000), BENCH_SEARCH_REPEAT (200), BENCH_KEEP_DATA=1 keeps the data dir,
 * BENCH_QUIET_PCT (off; on a shared machine, wait up to 60 s for other load to fall under this % of a core).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnChild } from './child.js';
import { type ServerInfo, environment, envNumber, table, writeResults } from './common.js';
import { backgroundLoad, waitForQuiet } from './cpu.js';
import { keepAliveAgent, post, round } from './load.js';
import { FIRST_QUERY, QUERY_COLUMNS, measureQueries, queryRow, searcher } from './search-queries.js';
import { seedSqlite } from './seed-messages.js';

const MESSAGES = envNumber('BENCH_MESSAGES', 100_000);
const REPEAT = envNumber('BENCH_SEARCH_REPEAT', 200);

async function main(): Promise<void> {
  const started = performance.now();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'scs-search-bench-'));
  try {
    // 1. First start: migrations, and a real session created through the tool.
    let server = await spawnChild<ServerInfo>('./serve-for-bench.ts', { DATA_DIR: dataDir });
    const agent = keepAliveAgent(1);
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

    // 2. Bulk insert while the server is down.
    const insertMs = seedSqlite(path.join(dataDir, 'shared-context.db'), sessionId, agentId, MESSAGES);
    console.log(`search benchmark: ${MESSAGES} messages inserted in ${round(insertMs / 1000, 1)} s`);

    // 3. Second start; the first search catches the index up.
    const quietPct = envNumber('BENCH_QUIET_PCT', 0);
    const background = quietPct > 0 ? await waitForQuiet(quietPct, 60_000) : await backgroundLoad();
    if (background !== undefined)
      console.log(`background load before the searches: ${background}% of a core`);
    server = await spawnChild<ServerInfo>('./serve-for-bench.ts', { DATA_DIR: dataDir });
    const search = searcher(agent, server.info.url, server.info.token, sessionId);

    const first = await search(FIRST_QUERY);
    console.log(
      `first search ("${FIRST_QUERY}", catches the index up): ${round(first.ms)} ms, ${first.reply.results?.length} results`,
    );

    const queries = await measureQueries(search, REPEAT);
    agent.destroy();
    await server.stop();

    const typoSamples = Object.values(queries).filter((q) => q.kind === 'typo');
    console.log();
    console.log(
      table(
        QUERY_COLUMNS,
        Object.entries(queries).map(([q, r]) => queryRow(q, r)),
      ),
    );
    const worst = typoSamples.reduce((a, b) => (b.p99 > a.p99 ? b : a));
    console.log(`\nworst typo p99: ${worst.p99} ms; first search (index catch-up): ${round(first.ms)} ms`);
    const file = writeResults('search.json', {
      environment: environment(),
      settings: {
        messages: MESSAGES,
        repeat: REPEAT,
        client: 'POST /mcp/tool/search_context, 1 client, sequential',
      },
      backgroundLoadPct: background,
      bulkInsertMs: round(insertMs),
      firstSearch: { query: FIRST_QUERY, ms: round(first.ms), results: first.reply.results?.length ?? 0 },
      queries,
    });
    console.log(`results: ${file} (${round((performance.now() - started) / 1000, 1)} s)`);
  } finally {
    if (process.env.BENCH_KEEP_DATA === '1') console.log(`data kept in ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
