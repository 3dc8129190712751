import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  Kysely,
  type QueryResult,
  SqliteDialect,
  type SqliteDatabase,
  type SqliteStatement,
  sql,
} from 'kysely';
import { type DirectRun, runTransactionQueriesDirectly } from '../compiled-query.js';
import { ensurePrivateDir, makePrivateIfPresent, touchPrivateFile } from '../../core/private-files.js';
import { GroupCommit, type Savepoints } from '../group-commit.js';
import { migrateToLatest } from '../migrate.js';
import type { Database } from '../schema.js';
import type { StoreOptions } from '../open-store.js';
import type { Store } from '../store.js';
import { SqliteChangeFeed } from './sqlite-change-feed.js';
import { SqliteSearchIndex } from './sqlite-search-index.js';
import { WAL_AUTOCHECKPOINT_ALONE, WalCheckpointer } from './wal-checkpointer.js';

/**
 * The embedded default: one better-sqlite3 connection in WAL mode. `synchronous=NORMAL` in WAL
 * mode keeps every committed transaction across a process crash (only an OS crash or power loss
 * can drop the last commits), which is what an acknowledged write promises.
 */
export async function openSqliteStore(file: string, options: StoreOptions = {}): Promise<Store> {
  const onDisk = file !== ':memory:' && file !== '';
  if (onDisk) prepareDatabaseFiles(file);
  const raw = new BetterSqlite3(file);
  raw.pragma('journal_mode = WAL');
  if (onDisk) for (const companion of companionFiles(file)) makePrivateIfPresent(companion);
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 5000');
  // Group commit gives each write a savepoint; the pages it changes are journaled for a rollback
  // to it. In memory that costs a copy; in a temporary file (the default) it cost write() calls,
  // four fifths of the message insert.
  raw.pragma('temp_store = MEMORY');
  // Under a steady write load checkpoints run on a worker thread (wal-checkpointer.ts); until then,
  // and as its backstop after, the connection's own, inside a COMMIT.
  raw.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_ALONE}`);
  const checkpointer = onDisk
    ? new WalCheckpointer(
        file,
        (pages) => raw.pragma(`wal_autocheckpoint = ${pages}`),
        (message) => options.onBackgroundError?.(new Error(`WAL checkpoint: ${message}`)),
      )
    : undefined;
  const onQuery = options.onQuery;
  const statements = withStatementCache(raw, () => {
    changeFeed.committed();
    checkpointer?.committed();
  });
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: statements }),
    ...(onQuery
      ? {
          log(event) {
            if (event.level === 'query') onQuery(event.query.sql, event.queryDurationMillis);
          },
        }
      : {}),
  });
  // The feed learns of commits from the connection itself (the statement wrapper above calls it).
  const changeFeed: SqliteChangeFeed = new SqliteChangeFeed(db, raw);
  runTransactionQueriesDirectly(db, directRun(statements, onQuery));
  await migrateToLatest(db, 'sqlite');
  // Every write goes through group commit: one COMMIT (the costly fsync-bound step) per batch.
  const writes = new GroupCommit(db, savepointsOn(raw));
  const searchIndex = new SqliteSearchIndex(db);
  searchIndex.start();

  return {
    dialect: 'sqlite',
    db,
    searchIndex,
    changeFeed,
    write: (work) => writes.run(work),
    exclusive: (_job, work) => work(),
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      searchIndex.stop();
      changeFeed.close();
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}

/** What Kysely's SQLite connection does with a compiled query, without its executor around it. */
function directRun(statements: SqliteDatabase, onQuery: StoreOptions['onQuery']): DirectRun {
  return (sqlText, parameters) => {
    const started = onQuery === undefined ? 0 : performance.now();
    const statement = statements.prepare(sqlText);
    let result: QueryResult<unknown>;
    if (statement.reader) result = { rows: statement.all(parameters) };
    else {
      const { changes, lastInsertRowid } = statement.run(parameters);
      result = { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    }
    onQuery?.(sqlText, performance.now() - started);
    return result;
  };
}

/** Group commit's savepoints, as statements prepared once on the one connection. */
function savepointsOn(raw: BetterSqlite3.Database): Savepoints {
  const open = raw.prepare('SAVEPOINT write');
  const release = raw.prepare('RELEASE write');
  const rollbackTo = raw.prepare('ROLLBACK TO write');
  return {
    open: () => open.run(),
    release: () => release.run(),
    rollback() {
      rollbackTo.run();
      release.run();
    },
  };
}

/** The files SQLite keeps beside the database (WAL mode, and the rollback journal of older opens). */
const companionFiles = (file: string): string[] =>
  ['-wal', '-shm', '-journal'].map((suffix) => file + suffix);

/**
 * The database and its companions are 0600, fixed at every open. SQLite creates `-wal`, `-shm` and
 * `-journal` with the mode of the database file, so creating that file 0600 before SQLite does
 * keeps every later file private without relying on the umask. The directory is made 0700 only
 * when created here: a DATABASE_URL may point into a directory that is not ours to narrow.
 */
function prepareDatabaseFiles(file: string): void {
  ensurePrivateDir(path.dirname(path.resolve(file)), { narrowExisting: false });
  touchPrivateFile(file);
  for (const companion of companionFiles(file)) makePrivateIfPresent(companion);
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely's SQLite driver prepares every query it runs, BEGIN and COMMIT included; preparing is a
 * sixth of a write's CPU. The same SQL text reuses its compiled statement (we never stream, so a
 * statement is never in use twice at once). Bounded: queries with varying IN-lists would grow it.
 * It also turns Kysely's BEGIN into BEGIN IMMEDIATE (see below), and reports each COMMIT
 * (`afterCommit`: the change feed looks for new changes, the WAL checkpointer starts).
 */
function withStatementCache(raw: BetterSqlite3.Database, afterCommit: () => void): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => raw.close(),
    prepare(source: string) {
      // Every transaction of ours writes: BEGIN IMMEDIATE takes the write lock up front, on the
      // newest snapshot. A deferred BEGIN that reads first fails with SQLITE_BUSY when another
      // process (stdio beside the HTTP server) committed in between; this one waits its turn.
      const sqlText = source === 'begin' ? 'begin immediate' : source;
      let statement = cache.get(sqlText);
      if (statement === undefined) {
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
        statement = reportingCommits(sqlText, raw.prepare(sqlText), afterCommit);
        cache.set(sqlText, statement);
      }
      return statement;
    },
  };
}

/**
 * COMMIT, wrapped once when prepared (so the hot path pays one extra call, no allocation), reports
 * that a transaction ended (the change feed then checks whether it recorded changes).
 */
function reportingCommits(
  sqlText: string,
  statement: BetterSqlite3.Statement,
  afterCommit: () => void,
): SqliteStatement {
  if (sqlText !== 'commit') return statement;
  return {
    reader: statement.reader,
    all: (parameters) => statement.all(parameters),
    iterate: (parameters) => statement.iterate(parameters),
    run(parameters) {
      const result = statement.run(parameters);
      afterCommit();
      return result;
    },
  };
}
