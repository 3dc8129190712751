import { Migrator } from 'kysely';
import { migrationProvider } from './migrations/index.js';
import type { Db, Dialect } from './store.js';

/** Runs every pending migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Db, dialect: Dialect, schema?: string): Promise<string[]> {
  // PostgreSQL: the migration tables live in the store's own schema (Kysely would otherwise find
  // another schema's tables of the same name and take them for its own).
  const migrator = new Migrator({
    db,
    provider: migrationProvider(dialect),
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error !== undefined) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${reason}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
