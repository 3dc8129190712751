/**
 * The write path without HTTP, in one process: MessageService.add (what add_message runs below its
 * transport) at BENCH_CONCURRENCY concurrent writes, against the same SQL run directly on
 * better-sqlite3 in the same process, in the same batches (one transaction per batch, as group
 * commit does). Reports CPU µs per write (process.cpuUsage over the measured window) and the ratio;
 * the difference is what the service, Kysely, group commit and the search index add to the SQL.
 * The direct SQL does not maintain the search index: BENCH_NO_SEARCH_INDEX=1 stops ours too, for
 * a like-for-like comparison (and the difference between the two runs is the index's share).
 *
 * Env: BENCH_WRITES (20000 per round), BENCH_CONCURRENCY (100), BENCH_ROUNDS (5; median reported).
 * Usage: npm run bench:write
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createServices } from '../src/app/services.js';
import { makePrincipal } from '../src/auth/principal.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logger.js';
import { content } from './add-message-load.js';
import { envNumber, table } from './common.js';

const WRITES = envNumber('BENCH_WRITES', 20_000);
const CONCURRENCY = envNumber('BENCH_CONCURRENCY', 100);
const ROUNDS = envNumber('BENCH_ROUNDS', 5);

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function measure(label: string, write: (i: number) => Promise<unknown>): Promise<number> {
  // Warm-up, then the measured window.
  for (let i = 0; i < 2_000; i += CONCURRENCY)
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, k) => write(i + k)));
  const started = cpuUs();
  for (let i = 0; i < WRITES; i += CONCURRENCY)
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, k) => write(i + k)));
  const us = (cpuUs() - started) / WRITES;
  process.stdout.write(`  ${label}: ${us.toFixed(1)} µs CPU/write\n`);
  return us;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'scs-write-path-'));
  const config = loadConfig({ ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
  const services = await createServices(config, createLogger('silent'));
  const caller = makePrincipal('bench-agent', 'generic', ['read', 'write']);
  const session = await services.sessions.create(caller, { purpose: 'write path' });
  const sessionId = session.session_id;
  if (process.env.BENCH_NO_SEARCH_INDEX === '1')
    (services.store.searchIndex as unknown as { stop(): void }).stop();

  // The same SQL, on its own connection to its own file with our schema (migrated by a service start).
  const sqlDir = mkdtempSync(path.join(tmpdir(), 'scs-write-sql-'));
  const other = await createServices(
    loadConfig({ ...process.env, DATA_DIR: sqlDir, LOG_LEVEL: 'silent' }),
    createLogger('silent'),
  );
  const otherSession = (await other.sessions.create(caller, { purpose: 'bare sql' })).session_id;
  await other.close();
  const raw = new Database(path.join(sqlDir, 'shared-context.db'));
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  const find = raw.prepare('SELECT * FROM sessions WHERE session_id = ?');
  const insert = raw.prepare(
    `INSERT INTO messages (session_id, sender, sender_type, content, visibility, message_type, metadata,
       parent_message_id, created_at) VALUES (?, 'bench-agent', 'generic', ?, 'public', 'agent_response', 'null', NULL, ?) RETURNING id`,
  );
  const audit = raw.prepare(
    `INSERT INTO audit_log (created_at, agent_id, action, session_id, resource, details)
     VALUES (?, 'bench-agent', 'add_message', ?, ?, ?)`,
  );
  const pending: Array<{ text: string; resolve: () => void }> = [];
  const batch = raw.transaction((jobs: typeof pending) => {
    for (const job of jobs) {
      find.get(otherSession);
      const now = Date.now();
      const row = insert.get(otherSession, job.text, now) as { id: number };
      audit.run(
        now,
        otherSession,
        `message:${row.id}`,
        '{"visibility":"public","message_type":"agent_response"}',
      );
    }
  });
  const sqlWrite = (i: number) =>
    new Promise<void>((resolve) => {
      pending.push({ text: content(i % 100, i), resolve });
      if (pending.length === 1)
        setImmediate(() => {
          const jobs = pending.splice(0);
          batch(jobs);
          for (const job of jobs) job.resolve();
        });
    });

  const rows: Array<[string, number, number, number]> = [];
  const ratios: number[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    console.log(`round ${r}`);
    const bare = await measure('same SQL, direct', sqlWrite);
    const ours = await measure('MessageService.add', (i) =>
      services.messages.add(caller, {
        sessionId,
        content: content(i % 100, i),
        visibility: 'public',
        messageType: 'agent_response',
      }),
    );
    ratios.push(ours / bare);
    rows.push([
      `round ${r}`,
      Math.round(bare * 10) / 10,
      Math.round(ours * 10) / 10,
      Math.round((ours / bare) * 100) / 100,
    ]);
  }
  console.log(table(['round', 'same SQL µs', 'service µs', 'service × SQL'], rows));
  const sorted = [...ratios].sort((a, b) => a - b);
  console.log(`median service × SQL: ${sorted[Math.floor((sorted.length - 1) / 2)]!.toFixed(2)}`);
  raw.close();
  await services.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(sqlDir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
