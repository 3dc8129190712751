import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from '../migrate.js';
import type { StoreOptions } from '../open-store.js';
import type { Database } from '../schema.js';
import type { Db, Store, WriteOptions } from '../store.js';
import { PgChangeFeed } from './pg-change-feed.js';
import { PgSearchIndex } from './pg-search-index.js';

/** int8 (bigint) columns come back as numbers: every one of ours (ids, ms times, xids) is below 2^53. */
const INT8_OID = 20;
const parseInt8 = (value: string): number => Number(value);
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Advisory lock namespaces (the first key of `pg_advisory_xact_lock(int, int)`). */
export const LOCK_SPACE = { stream: 7301, migrations: 7302, job: 7303 } as const;

/**
 * PostgreSQL (`DATABASE_URL=postgres://…`): a `pg` pool, one transaction per write (PostgreSQL
 * flushes concurrent commits together by itself), the change feed over the transaction-id horizon
 * with LISTEN/NOTIFY wake-ups, and search with pg_trgm. Several server processes may share the
 * database: everything they must agree on lives in it.
 */
export async function openPostgresStore(
  url: string,
  poolSize: number,
  options: StoreOptions = {},
): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    types,
    application_name: 'shared-context-server',
  });
  // A connection that fails while idle in the pool must not take the process down.
  pool.on('error', () => undefined);
  const onQuery = options.onQuery;
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    ...(onQuery
      ? {
          log(event) {
            if (event.level === 'query') onQuery(event.query.sql, event.queryDurationMillis);
          },
        }
      : {}),
  });
  let schema: string;
  try {
    const current = await sql<{ schema: string | null }>`SELECT current_schema() AS schema`.execute(db);
    schema = current.rows[0]?.schema ?? 'public';
    await migrateOnce(db, schema);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const changeFeed = new PgChangeFeed(db, { connectionString: url, types, channel: channelFor(schema) });
  const searchIndex = new PgSearchIndex();

  return {
    dialect: 'postgres',
    db,
    searchIndex,
    changeFeed,
    async write<T>(work: (trx: Db) => Promise<T>, writeOptions?: WriteOptions): Promise<T> {
      const result = await db.transaction().execute(async (trx) => {
        await lockStreams(trx, writeOptions?.streams);
        return work(trx);
      });
      changeFeed.committed();
      return result;
    },
    async exclusive<T>(job: string, work: () => Promise<T>): Promise<T | undefined> {
      return db.connection().execute(async (conn) => {
        const got = await sql<{
          ok: boolean;
        }>`SELECT pg_try_advisory_lock(${LOCK_SPACE.job}, hashtext(${job})) AS ok`.execute(conn);
        if (got.rows[0]?.ok !== true) return undefined;
        try {
          return await work();
        } finally {
          await sql`SELECT pg_advisory_unlock(${LOCK_SPACE.job}, hashtext(${job}))`.execute(conn);
        }
      });
    },
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await changeFeed.close();
      await db.destroy();
    },
  };
}

/**
 * Ids that clients page by (a session's message ids, a recipient's mail ids) must become visible
 * in id order. A write that allocates them first takes a transaction-scoped advisory lock per
 * stream, in sorted order (no deadlock), before it writes anything: the next writer to the stream
 * waits for this one's commit, so ids and commits go in the same order — and so does the change
 * feed, because the transaction gets its id (the feed cursor) only at its first row write, after
 * the locks. Writers to different streams never wait for each other.
 */
async function lockStreams(trx: Db, streams: readonly string[] | undefined): Promise<void> {
  if (streams === undefined || streams.length === 0) return;
  const keys = [...new Set(streams)].sort();
  await sql`SELECT pg_advisory_xact_lock(${LOCK_SPACE.stream}, hashtext(k))
    FROM (SELECT k FROM unnest(${keys}::text[]) AS k ORDER BY k) AS s`.execute(trx);
}

/** Nodes starting together run the migrations one at a time (a session advisory lock around them). */
async function migrateOnce(db: Kysely<Database>, schema: string): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${LOCK_SPACE.migrations}, 0)`.execute(conn);
    try {
      await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public`
        .execute(conn)
        .catch(async (error) => {
          // Another database of the cluster may have created it at the same moment: then it is there.
          const found = await sql`SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'`.execute(conn);
          if (found.rows.length === 0) {
            throw new Error(
              `pg_trgm is needed for search: run CREATE EXTENSION pg_trgm as a superuser (${String(error)})`,
            );
          }
        });
      await migrateToLatest(conn, 'postgres', schema);
    } finally {
      await sql`SELECT pg_advisory_unlock(${LOCK_SPACE.migrations}, 0)`.execute(conn);
    }
  });
}

/** The NOTIFY channel of one schema (nodes on different schemas of a database do not wake each other). */
const channelFor = (schema: string): string => `scs_changes:${schema}`.slice(0, 63);
