/**
 * The real server, started in-process via startApp, for a benchmark child process. Prints one JSON
 * line on stdout once it listens: { url, token, agentId, apiKey, dataDir }. Stops cleanly (and so
 * flushes a --cpu-prof profile) on SIGTERM/SIGINT or when stdin closes.
 *
 * Env: DATA_DIR (default: a fresh temp dir, removed on exit), BENCH_AGENT_ID (default bench-agent),
 * BENCH_NO_SEARCH_INDEX=1 (diagnostic: the search index never catches up, to measure its share),
 * BENCH_EXPERIMENT=stmt-cache (measures a suggestion without touching src/: better-sqlite3's prepare
 * memoized per SQL text, which Kysely's SqliteDriver otherwise calls on every query).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startApp } from '../src/app/app.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logger.js';
import { answerLoopDelayCommands } from './loop-delay.js';

function cachePreparedStatements(): void {
  const proto = Database.prototype as unknown as { prepare(this: object, source: string): unknown };
  const prepare = proto.prepare;
  const caches = new WeakMap<object, Map<string, unknown>>();
  proto.prepare = function (this: object, source: string) {
    let cache = caches.get(this);
    if (cache === undefined) caches.set(this, (cache = new Map()));
    let statement = cache.get(source);
    if (statement === undefined) cache.set(source, (statement = prepare.call(this, source)));
    return statement;
  };
}

async function main(): Promise<void> {
  if (process.env.BENCH_EXPERIMENT === 'stmt-cache') cachePreparedStatements();
  const ownDir = process.env.DATA_DIR === undefined;
  const dataDir = process.env.DATA_DIR ?? mkdtempSync(path.join(tmpdir(), 'scs-bench-'));
  const config = loadConfig({
    ...process.env,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: process.env.HTTP_PORT ?? '0',
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    RATE_LIMIT_PER_SECOND: process.env.RATE_LIMIT_PER_SECOND ?? '1000000',
    RATE_LIMIT_BURST: process.env.RATE_LIMIT_BURST ?? '1000000',
    // The fan-out bench introduces 1,000 agent ids from one address.
    RATE_LIMIT_ANONYMOUS_PER_SECOND: process.env.RATE_LIMIT_ANONYMOUS_PER_SECOND ?? '1000000',
    RATE_LIMIT_ANONYMOUS_BURST: process.env.RATE_LIMIT_ANONYMOUS_BURST ?? '1000000',
  });
  const app = await startApp(config, createLogger(config.logLevel)).catch((error: unknown) => {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  });
  // Diagnostic only: the search index's share of a write (its background catch-up never runs).
  if (process.env.BENCH_NO_SEARCH_INDEX === '1')
    (app.services.store.searchIndex as unknown as { stop(): void }).stop();
  const agentId = process.env.BENCH_AGENT_ID ?? 'bench-agent';
  const issued = await app.services.auth.authenticateAgent({
    agentId,
    agentType: 'generic',
    apiKey: app.services.secrets.apiKey,
    requestedPermissions: ['read', 'write'],
  });

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await app.stop();
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.stdin.on('end', () => void stop());
  process.stdin.resume();

  process.stdout.write(
    `${JSON.stringify({ url: app.url, token: issued.token, agentId, apiKey: app.services.secrets.apiKey, dataDir })}\n`,
  );
  answerLoopDelayCommands();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
