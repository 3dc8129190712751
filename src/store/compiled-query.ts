import type { Compilable, CompiledQuery, QueryResult } from 'kysely';
import type { Db } from './store.js';

/** A placeholder value no caller passes: its position in a compiled query's parameters names a slot. */
const slot = (name: string): string => `\u0000slot:${name}`;

/** Runs compiled SQL at once on the connection of the transaction in progress (SQLite: synchronous). */
export type DirectRun = (sqlText: string, parameters: readonly unknown[]) => QueryResult<unknown>;

/** Per dialect adapter (one per opened store): how its transactions run compiled SQL directly. */
const directRuns = new WeakMap<object, DirectRun>();

/**
 * A store whose transactions own their connection outright (SQLite's one connection, held by the
 * transaction under Kysely's mutex) lets compiled queries inside a transaction skip Kysely's
 * executor — its connection provider, promise chain and result plugins — and run here. Outside a
 * transaction they always go through Kysely, which waits for the connection.
 */
export function runTransactionQueriesDirectly(db: Db, run: DirectRun): void {
  directRuns.set(db.getExecutor().adapter, run);
}

interface Compiled {
  direct: DirectRun | undefined;
  sql: string;
  query: CompiledQuery['query'];
  queryId: CompiledQuery['queryId'];
  /** Per parameter: the slot it takes its value from, or the constant the builder put there. */
  parameters: Array<{ slot: string } | { value: unknown }>;
}

/**
 * A hot query built and compiled once per dialect instead of on every call: `build` receives a
 * placeholder per named parameter and returns the Kysely query; each call then runs the same SQL
 * with its values in their places. For the write path's few statements, where building and
 * compiling the query cost as much as running it.
 */
export function compiledOnce<P extends Record<string, unknown>, R>(
  names: ReadonlyArray<keyof P & string>,
  build: (db: Db, p: P) => Compilable<R>,
): (db: Db, values: P) => Promise<QueryResult<R>> {
  // One compilation per dialect: the db and its transactions share one adapter.
  const byAdapter = new WeakMap<object, Compiled>();
  const placeholders = Object.fromEntries(names.map((name) => [name, slot(name)])) as P;
  const slots = new Map(names.map((name) => [slot(name), name]));

  const compile = (db: Db): Compiled => {
    const adapter = db.getExecutor().adapter;
    let compiled = byAdapter.get(adapter);
    if (compiled === undefined) {
      const query = build(db, placeholders).compile();
      compiled = {
        direct: directRuns.get(adapter),
        sql: query.sql,
        query: query.query,
        queryId: query.queryId,
        parameters: query.parameters.map((value) => {
          const name = typeof value === 'string' ? slots.get(value) : undefined;
          return name === undefined ? { value } : { slot: name };
        }),
      };
      byAdapter.set(adapter, compiled);
    }
    return compiled;
  };

  return (db, values) => {
    const compiled = compile(db);
    const parameters = compiled.parameters.map((p) => ('slot' in p ? values[p.slot] : p.value));
    if (compiled.direct !== undefined && db.isTransaction) {
      return Promise.resolve(compiled.direct(compiled.sql, parameters) as QueryResult<R>);
    }
    return db.executeQuery<R>({
      sql: compiled.sql,
      query: compiled.query,
      queryId: compiled.queryId,
      parameters,
    });
  };
}
