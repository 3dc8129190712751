/**
 * The real server, started in-process via startApp, for a benchmark child process. Prints one JSON
 * line on stdout once it listens: { url, token, agentId, apiKey, dataDir }. Stops cleanly (and so
 * flushes a --cpu-prof profile) on SIGTERM/SIGINT or when stdin closes. V8 is tuned as the
 * server's command line tunes it (src/cli/v8-tuning.ts).
 *
 * Env: DATA_DIR (default: a fresh temp dir, removed on exit), BENCH_AGENT_ID (default bench-agent),
 * BENCH_NO_SEARCH_INDEX=1 (diagnostic: the search index never catches up, to measure its share),
 * BENCH_ALLOC_PROFILE=<file.heapprofile> (diagnostic: V8's sampling heap profiler over the server's
 * life, garbage included — where the allocation that feeds GC comes from; `tsx bench/alloc-summary.ts`;
 * with BENCH_ALLOC_LIVE=1 only what is still alive at the end).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApp } from '../src/app/app.js';
import { tuneV8ForServer } from '../src/cli/v8-tuning.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logger.js';
import { answerLoopDelayCommands } from './loop-delay.js';

/** Starts V8's sampling heap profiler, counting objects GC collected too; resolves to a writer of the profile. */
async function sampleAllocations(file: string): Promise<() => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: process.env.BENCH_ALLOC_LIVE !== '1',
    includeObjectsCollectedByMinorGC: process.env.BENCH_ALLOC_LIVE !== '1',
  });
  return async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(file, JSON.stringify(profile));
  };
}

async function main(): Promise<void> {
  tuneV8ForServer();
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

  const allocations = process.env.BENCH_ALLOC_PROFILE;
  const writeAllocations = allocations === undefined ? undefined : await sampleAllocations(allocations);

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await writeAllocations?.();
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
