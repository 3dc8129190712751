/**
 * Server nodes for the PostgreSQL benchmark (pg.bench.ts and its parts): the environment every
 * server child of a run shares, as nodes of one deployment do, and a PostgreSQL schema of its own
 * for each case, in the database the test suite uses (TEST_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/test; see test/helpers/database.ts), dropped when the case
 * ends — or, should the run be interrupted, on SIGINT/SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { adminQuery, schemaUrl } from '../test/helpers/database.js';
import type { Child } from './child.js';
import { envNumber } from './common.js';

/** The real server, started like `serve` from its environment (see serve-for-bench.ts). */
export const SERVER = './serve-for-bench.ts';
/** Connections per server process, and the bare baseline's pool. */
export const POOL_SIZE = envNumber('DATABASE_POOL_SIZE', 10);

/** Keys every server child of this run shares (SQLite ones too: it costs nothing). */
export const SHARED = {
  API_KEY: randomBytes(24).toString('hex'),
  ADMIN_API_KEY: randomBytes(24).toString('hex'),
  JWT_SECRET_KEY: randomBytes(32).toString('hex'),
  DATABASE_POOL_SIZE: String(POOL_SIZE),
};

/** A node's environment on PostgreSQL; `agentId` is the agent its printed token is for. */
export const pgEnv = (url: string, agentId = 'bench-agent'): Record<string, string> => ({
  ...SHARED,
  DATABASE_URL: url,
  BENCH_AGENT_ID: agentId,
});

export async function stopAll(children: Array<Child<unknown> | undefined>): Promise<void> {
  await Promise.all(children.map((c) => c?.stop()));
}

const live = new Set<string>();

async function dropAll(): Promise<void> {
  for (const schema of live)
    await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  live.clear();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    void dropAll().finally(() => process.exit(130));
  });

/**
 * Runs `fn` with the DATABASE_URL of a fresh schema `bench_<random>` (first on the search path, then
 * public, where pg_trgm lives), and drops the schema afterwards.
 */
export async function withSchema<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE SCHEMA ${schema}`);
  live.add(schema);
  try {
    return await fn(schemaUrl(schema));
  } finally {
    live.delete(schema);
    await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}
