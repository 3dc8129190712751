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
import Database from 'better-sqlite3';
import { spawnChild } from './child.js';
import { type ServerInfo, environment, envNumber, table, writeResults } from './common.js';
import { backgroundLoad, waitForQuiet } from './cpu.js';
import { createCorpus, prng } from './corpus.js';
import { keepAliveAgent, post, round, summarize } from './load.js';

const MESSAGES = envNumber('BENCH_MESSAGES', 100_000);
const REPEAT = envNumber('BENCH_SEARCH_REPEAT', 200);
const TYPO_QUERIES = ['authentcation', 'databse migraton', 'conection pool'];
const EXACT_QUERY = 'authentication';
/** What each query means: a result is "on target" when its content contains this. */
const INTENDED: Record<string, string> = {
  authentcation: 'authentication',
  'databse migraton': 'database migration',
  'conection pool': 'connection pool',
  authentication: 'authentication',
};
const FIRST_QUERY = 'authentcation';

interface SearchReply {
  success?: boolean;
  results?: Array<{ message?: { content?: string } }>;
  candidates?: number;
  search_time_ms?: number;
}

/** Fills the session with `count` messages from eight agents, straight into SQLite, in one transaction. */
function bulkInsert(file: string, sessionId: string, agentId: string, count: number): number {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  const random = prng(7);
  const corpus = createCorpus(42);
  const senders = [agentId, 'planner', 'coder-1', 'coder-2', 'reviewer', 'tester', 'researcher', 'ops'];
  const types = ['agent_response', 'finding', 'question', 'decision', 'handoff'];
  const topics = ['auth', 'storage', 'search', 'deploy', 'api', 'ui'];
  const insert = db.prepare(
    `INSERT INTO messages (session_id, sender, sender_type, content, visibility, message_type, metadata,
       parent_message_id, created_at) VALUES (?, ?, 'generic', ?, ?, ?, ?, NULL, ?)`,
  );
  const start = Date.now() - count * 1000;
  const started = performance.now();
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const sender = senders[Math.floor(random() * senders.length)] as string;
      const roll = random();
      // Mostly public; some private (only their sender sees them) and agent_only.
      const visibility = roll < 0.85 ? 'public' : roll < 0.95 ? 'private' : 'agent_only';
      const metadata =
        random() < 0.3
          ? JSON.stringify({
              topic: topics[Math.floor(random() * topics.length)],
              priority: random() < 0.2 ? 'high' : 'normal',
            })
          : 'null';
      insert.run(
        sessionId,
        sender,
        corpus.message(),
        visibility,
        types[Math.floor(random() * types.length)],
        metadata,
        start + i * 1000,
      );
    }
  })();
  db.close();
  return performance.now() - started;
}

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
    const insertMs = bulkInsert(path.join(dataDir, 'shared-context.db'), sessionId, agentId, MESSAGES);
    console.log(`search benchmark: ${MESSAGES} messages inserted in ${round(insertMs / 1000, 1)} s`);

    // 3. Second start; the first search catches the index up.
    const quietPct = envNumber('BENCH_QUIET_PCT', 0);
    const background = quietPct > 0 ? await waitForQuiet(quietPct, 60_000) : await backgroundLoad();
    if (background !== undefined)
      console.log(`background load before the searches: ${background}% of a core`);
    server = await spawnChild<ServerInfo>('./serve-for-bench.ts', { DATA_DIR: dataDir });
    const url = `${server.info.url}/mcp/tool/search_context`;
    const auth = { authorization: `Bearer ${server.info.token}` };
    const search = async (query: string): Promise<{ ms: number; reply: SearchReply }> => {
      const t = performance.now();
      const res = await post(agent, url, JSON.stringify({ session_id: sessionId, query }), auth);
      const ms = performance.now() - t;
      const reply = JSON.parse(res.body) as SearchReply;
      if (res.status !== 200 || reply.success !== true)
        throw new Error(`search_context: ${res.status} ${res.body}`);
      return { ms, reply };
    };

    const first = await search(FIRST_QUERY);
    console.log(
      `first search ("${FIRST_QUERY}", catches the index up): ${round(first.ms)} ms, ${first.reply.results?.length} results`,
    );

    const queries: Record<
      string,
      ReturnType<typeof summarize> & {
        kind: string;
        results: number;
        onTarget: number;
        candidates: number;
        serverMeanMs: number;
      }
    > = {};
    for (const [kind, query] of [...TYPO_QUERIES.map((q) => ['typo', q]), ['exact', EXACT_QUERY]] as const) {
      const samples: number[] = [];
      let serverMs = 0;
      let last: SearchReply = {};
      for (let i = 0; i < REPEAT; i++) {
        const { ms, reply } = await search(query);
        samples.push(ms);
        serverMs += reply.search_time_ms ?? 0;
        last = reply;
      }
      queries[query] = {
        kind,
        ...summarize(samples),
        results: last.results?.length ?? 0,
        onTarget: (last.results ?? []).filter((r) =>
          (r.message?.content ?? '').toLowerCase().includes(INTENDED[query] ?? query),
        ).length,
        candidates: last.candidates ?? 0,
        serverMeanMs: round(serverMs / REPEAT),
      };
    }
    agent.destroy();
    await server.stop();

    const typoSamples = Object.values(queries).filter((q) => q.kind === 'typo');
    console.log();
    console.log(
      table(
        [
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
        ],
        Object.entries(queries).map(([q, r]) => [
          `"${q}"`,
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
        ]),
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
