import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';

/**
 * Which database the suite runs on: SQLite files by default, the real PostgreSQL when
 * `TEST_DIALECT=postgres` (vitest.config.ts runs the suite's store, tool and real-time files both
 * ways). Each test server gets a schema of its own in `TEST_DATABASE_URL`, kept in its data
 * directory so a restart on the same directory finds its data again.
 */
export const TEST_DIALECT: 'sqlite' | 'postgres' =
  process.env.TEST_DIALECT === 'postgres' ? 'postgres' : 'sqlite';
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const SCHEMA_FILE = 'pg-schema';

/** DATABASE_URL for a test server with this data directory: a fresh (or its earlier) PostgreSQL schema. */
export async function testDatabaseUrl(dataDir: string): Promise<string | undefined> {
  if (TEST_DIALECT !== 'postgres') return undefined;
  const file = path.join(dataDir, SCHEMA_FILE);
  let schema: string;
  if (existsSync(file)) {
    schema = readFileSync(file, 'utf8').trim();
  } else {
    schema = `scs_t_${randomBytes(6).toString('hex')}`;
    await adminQuery(`CREATE SCHEMA ${schema}`);
    writeFileSync(file, schema);
  }
  return schemaUrl(schema);
}

/** The URL of `TEST_DATABASE_URL` with `schema` first on the search path. */
export function schemaUrl(schema: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema},public`);
  return url.toString();
}

/** Drops the schema of a data directory's test server (if it has one). */
export async function dropTestDatabase(dataDir: string): Promise<void> {
  const file = path.join(dataDir, SCHEMA_FILE);
  if (TEST_DIALECT !== 'postgres' || !existsSync(file)) return;
  await adminQuery(`DROP SCHEMA IF EXISTS ${readFileSync(file, 'utf8').trim()} CASCADE`);
}

/** One statement on the test database, on a connection of its own. */
export async function adminQuery(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

export interface RawDatabase {
  query<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * A connection of its own (not the server's) to a test server's database, in either dialect, for
 * reading what is stored: `?` placeholders, as SQLite writes them.
 */
export async function openRawDatabase(dataDir: string): Promise<RawDatabase> {
  if (TEST_DIALECT === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path.join(dataDir, 'shared-context.db'), { readonly: true, fileMustExist: true });
    return {
      query: async <T>(text: string, values: unknown[] = []) => db.prepare(text).all(...values) as T[],
      close: async () => void db.close(),
    };
  }
  const client = new pg.Client({
    connectionString: await testDatabaseUrl(dataDir),
    types: { getTypeParser: (oid, format) => (oid === 20 ? Number : pg.types.getTypeParser(oid, format)) },
  });
  await client.connect();
  return {
    async query<T>(text: string, values: unknown[] = []) {
      let n = 0;
      const result = await client.query(
        text.replace(/\?/g, () => `$${++n}`),
        values,
      );
      return result.rows as T[];
    },
    close: () => client.end(),
  };
}

/** Rows read straight from a test server's database (see openRawDatabase). */
export async function queryDatabase<T = Record<string, unknown>>(
  dataDir: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const db = await openRawDatabase(dataDir);
  try {
    return await db.query<T>(text, values);
  } finally {
    await db.close();
  }
}

/**
 * A deployment of several nodes for the multi-node tests: one schema, the keys every node must
 * share, and a data directory per node that names the schema (as test servers' do).
 */
export function testDeployment() {
  const schema = `scs_t_${randomBytes(6).toString('hex')}`;
  const dirs: string[] = [];
  return {
    schema,
    keys: {
      API_KEY: randomBytes(24).toString('hex'),
      ADMIN_API_KEY: randomBytes(24).toString('hex'),
      JWT_SECRET_KEY: randomBytes(32).toString('hex'),
    },
    create: () => adminQuery(`CREATE SCHEMA ${schema}`),
    /** A new node's data directory on the deployment's schema. */
    nodeDir(): string {
      const dir = mkdtempSync(path.join(tmpdir(), 'scs-node-'));
      writeFileSync(path.join(dir, SCHEMA_FILE), schema);
      dirs.push(dir);
      return dir;
    },
    async drop(): Promise<void> {
      await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}
