/**
 * A large session for the search benchmarks (search.bench.ts, pg.bench.ts), written straight into
 * the database a server created (seeding 100,000 messages through the API would take minutes).
 * Both dialects get the same rows: corpus.ts text from eight agents, mostly public, some private
 * and agent_only, some with metadata. The change trigger of migration 0005 records a change per
 * row, so SQLite's search index (fed from the change feed) finds them on its next catch-up; on
 * PostgreSQL the pg_trgm indexes take them in the inserting transaction.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { createCorpus, prng } from './corpus.js';

/** (session_id, sender, content, visibility, message_type, metadata, created_at) */
type Row = [string, string, string, string, string, string, number];

const COLUMNS = `session_id, sender, sender_type, content, visibility, message_type, metadata,
  parent_message_id, created_at`;

/**
 * `count` messages of the session, deterministic (seeded), one second apart, ending now. Another
 * `seed` gives another stream, and another vocabulary of filler words (another session's jargon).
 */
export function* messageRows(sessionId: string, agentId: string, count: number, seed = 0): Generator<Row> {
  const random = prng(7 + seed);
  const corpus = createCorpus(42 + seed);
  const senders = [agentId, 'planner', 'coder-1', 'coder-2', 'reviewer', 'tester', 'researcher', 'ops'];
  const types = ['agent_response', 'finding', 'question', 'decision', 'handoff'];
  const topics = ['auth', 'storage', 'search', 'deploy', 'api', 'ui'];
  const start = Date.now() - count * 1000;
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
    const type = types[Math.floor(random() * types.length)] as string;
    yield [sessionId, sender, corpus.message(), visibility, type, metadata, start + i * 1000];
  }
}

/**
 * Fills the session in a SQLite file (the server stopped), in one transaction; returns the ms it
 * took. `seed` picks another stream (messageRows); `createSession` first adds the session's row.
 */
export function seedSqlite(
  file: string,
  sessionId: string,
  agentId: string,
  count: number,
  options: { seed?: number; createSession?: boolean } = {},
): number {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  const insert = db.prepare(
    `INSERT INTO messages (${COLUMNS}) VALUES (?, ?, 'generic', ?, ?, ?, ?, NULL, ?)`,
  );
  const started = performance.now();
  db.transaction(() => {
    if (options.createSession === true)
      db.prepare(
        `INSERT OR IGNORE INTO sessions (session_id, purpose, status, created_by, created_at, updated_at, metadata)
        VALUES (?, 'seeded', 'active', ?, 0, 0, 'null')`,
      ).run(sessionId, agentId);
    for (const row of messageRows(sessionId, agentId, count, options.seed)) insert.run(...row);
  })();
  db.close();
  return performance.now() - started;
}

/**
 * Fills the session in a PostgreSQL schema (`url` puts it on the search path) with multi-row
 * INSERTs of `batch` rows in one transaction, then VACUUM ANALYZE (planner statistics, and the GIN
 * indexes' pending lists merged, as autovacuum would do soon after); resolves with the ms it took.
 */
export async function seedPostgres(
  url: string,
  sessionId: string,
  agentId: string,
  count: number,
  batch = 1_000,
): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = performance.now();
  try {
    await client.query('BEGIN');
    let rows: Row[] = [];
    const flush = async () => {
      if (rows.length === 0) return;
      const tuples = rows.map((_, r) => {
        const p = (c: number) => `$${r * 7 + c}`;
        return `(${p(1)}, ${p(2)}, 'generic', ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, NULL, ${p(7)})`;
      });
      await client.query(`INSERT INTO messages (${COLUMNS}) VALUES ${tuples.join(', ')}`, rows.flat());
      rows = [];
    };
    for (const row of messageRows(sessionId, agentId, count)) {
      rows.push(row);
      if (rows.length === batch) await flush();
    }
    await flush();
    await client.query('COMMIT');
    await client.query('VACUUM ANALYZE messages');
    await client.query('ANALYZE changes');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
  return performance.now() - started;
}
