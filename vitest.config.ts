import pg from 'pg';
import { defineConfig } from 'vitest/config';

/**
 * The suite runs on SQLite, and its store, tool and real-time files run a second time on the real
 * PostgreSQL (`TEST_DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/test; every test server
 * gets a schema of its own: test/helpers/database.ts). Files that test SQLite itself (its files and
 * modes, its search index, the browser pages) run once.
 */
const POSTGRES_FILES = [
  'test/agent-keys.test.ts',
  'test/auth.test.ts',
  'test/change-feed.test.ts',
  'test/cross-process.test.ts',
  'test/hostile-input.test.ts',
  'test/mail.test.ts',
  'test/mcp-hardening.test.ts',
  'test/memory.test.ts',
  'test/message-counts.test.ts',
  'test/messages.test.ts',
  'test/metrics.test.ts',
  'test/multi-node.test.ts',
  'test/node-failover.test.ts',
  'test/ops.test.ts',
  'test/rate-limit.test.ts',
  'test/reply-budget.test.ts',
  'test/rest-api.test.ts',
  'test/resume.test.ts',
  'test/retention.test.ts',
  'test/schemas.test.ts',
  'test/search.test.ts',
  'test/smoke.test.ts',
  'test/subscriptions.test.ts',
  'test/visibility.test.ts',
  'test/websocket.test.ts',
  'test/write-path.test.ts',
  'test/ws-hardening.test.ts',
];
/** Needs several nodes on one database: PostgreSQL only. */
const POSTGRES_ONLY = ['test/multi-node.test.ts', 'test/node-failover.test.ts'];

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Whether the test PostgreSQL answers; in CI it must (a missing database fails the run). */
async function postgresAnswers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (error) {
    if (process.env.CI)
      throw new Error(`TEST_DATABASE_URL ${DATABASE_URL} does not answer: ${String(error)}`);
    console.warn(`PostgreSQL at ${DATABASE_URL} does not answer: the suite runs on SQLite only.`);
    return false;
  }
}

const withPostgres = await postgresAnswers();

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: POSTGRES_ONLY,
        },
      },
      ...(withPostgres
        ? [
            {
              extends: true as const,
              test: { name: 'postgres', include: POSTGRES_FILES, env: { TEST_DIALECT: 'postgres' } },
            },
          ]
        : []),
    ],
  },
});
