/**
 * What search.bench.ts measures besides query latency: how long a catch-up stalls other requests
 * (GET /health, sent one after another while it runs) or its own event loop (monitorEventLoopDelay,
 * in process), and the recall of the typo search against a brute-force ranking of the session.
 */
import { type Agent, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { canSee, type Viewer } from '../src/messages/visibility.js';
import { scoreOf } from '../src/search/scoring.js';
import type { MessageRow } from '../src/store/schema.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite.store.js';
import { createCorpus, prng } from './corpus.js';
import { round, summarize } from './load.js';
import type { Search } from './search-queries.js';

/** GET a URL on 127.0.0.1; resolves with the status once the whole reply arrived. */
function get(agent: Agent, url: string): Promise<number> {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1') throw new Error(`refusing to send load to ${target.hostname}`);
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: target.hostname, port: target.port, path: target.pathname }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Times `work` (e.g. the first search, which waits for the catch-up) while GET /health is sent in a
 * loop; the health latencies show how long the server's event loop was held between two turns.
 */
export async function whileProbing<T>(
  agent: Agent,
  baseUrl: string,
  work: () => Promise<T>,
): Promise<{ result: T; ms: number; probes: ReturnType<typeof summarize> }> {
  const started = performance.now();
  let done = false;
  const running = work().finally(() => (done = true));
  const samples: number[] = [];
  while (!done) {
    const t = performance.now();
    if ((await get(agent, `${baseUrl}/health`)) !== 200) throw new Error('GET /health failed');
    samples.push(performance.now() - t);
  }
  const result = await running;
  return { result, ms: round(performance.now() - started), probes: summarize(samples) };
}

/** A one-letter typo (dropped, added, changed, or two neighbours swapped), never at a space. */
export function typo(text: string, random: () => number): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (;;) {
    const at = Math.floor(random() * text.length);
    if (text[at] === ' ' || text[at + 1] === ' ') continue;
    const letter = letters[Math.floor(random() * letters.length)] as string;
    const kind = Math.floor(random() * 4);
    const out =
      kind === 0
        ? text.slice(0, at) + text.slice(at + 1)
        : kind === 1
          ? text.slice(0, at) + letter + text.slice(at)
          : kind === 2
            ? text.slice(0, at) + letter + text.slice(at + 1)
            : text.slice(0, at) + (text[at + 1] ?? '') + (text[at] ?? '') + text.slice(at + 2);
    if (out !== text) return out;
  }
}

/** `count` typo queries: one-letter typos of corpus words of 7+ letters, seeded. */
export function typoQueries(count: number, seed = 2024): string[] {
  const random = prng(seed);
  const words = createCorpus(42).vocabulary.filter((w) => /^[a-z]{7,}$/.test(w));
  return Array.from({ length: count }, () =>
    typo(words[Math.floor(random() * words.length)] as string, random),
  );
}

/**
 * Recall at 10 of `search` (run with fuzzy_threshold 0) against scoring every message of the session
 * the viewer may see: a result counts when its brute-force score reaches the tenth best (many
 * messages tie on a score). Reads the database file directly, read-only.
 */
export async function recallAt10(
  file: string,
  sessionId: string,
  viewer: Viewer,
  queries: string[],
  search: Search,
): Promise<{ mean: number; min: number; perQuery: Record<string, number> }> {
  const db = new BetterSqlite3(file, { readonly: true });
  const rows = (
    db.prepare('SELECT * FROM messages WHERE session_id = ?').all(sessionId) as MessageRow[]
  ).filter((m) => canSee(viewer, m));
  db.close();
  const perQuery: Record<string, number> = {};
  for (const query of queries) {
    const { reply } = await search(query);
    const scores = rows.map((m) => scoreOf(m, query, true)).sort((a, b) => b - a);
    const tenth = scores[9] ?? 0;
    const results = (reply.results ?? []) as Array<{ score?: number }>;
    perQuery[query] = results.filter((r) => (r.score ?? 0) >= tenth).length / Math.min(10, scores.length);
  }
  const values = Object.values(perQuery);
  return {
    mean: round(values.reduce((a, b) => a + b, 0) / values.length, 3),
    min: Math.min(...values),
    perQuery,
  };
}

/**
 * Opens the store on `file` in this process and catches the search index up, with
 * perf_hooks.monitorEventLoopDelay watching this process's event loop meanwhile: how long the
 * catch-up holds the loop between two turns (its slices), and how fast it indexes.
 */
export async function catchUpInProcess(file: string): Promise<{
  messages: number;
  ms: number;
  messagesPerSecond: number;
  loopDelay: { p50: number; p99: number; max: number };
}> {
  const store = await openSqliteStore(file);
  try {
    const pending = await sql<{ n: number }>`SELECT count(*) AS n FROM changes
      WHERE kind = 'message' AND cursor > (SELECT last_id FROM search_index_state WHERE name = 'changes')`.execute(
      store.db,
    );
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const started = performance.now();
    await store.searchIndex.catchUp(store.db);
    const ms = performance.now() - started;
    histogram.disable();
    const toMs = (ns: number) => round(ns / 1e6);
    const messages = pending.rows[0]?.n ?? 0;
    return {
      messages,
      ms: round(ms),
      messagesPerSecond: Math.round((messages * 1000) / ms),
      loopDelay: {
        p50: toMs(histogram.percentile(50)),
        p99: toMs(histogram.percentile(99)),
        max: toMs(histogram.max),
      },
    };
  } finally {
    await store.close();
  }
}
