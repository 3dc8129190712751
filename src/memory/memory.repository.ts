import type { ExpressionBuilder, Insertable } from 'kysely';
import type { Db } from '../store/store.js';
import type { MemoryRow, MemoryTable } from '../store/schema.js';

/** Entries whose expiry has passed are invisible at once, whether or not the purge has run. */
const live = (now: number) => (eb: ExpressionBuilder<{ agent_memory: MemoryTable }, 'agent_memory'>) =>
  eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]);

export interface MemoryAddress {
  agentId: string;
  scopeKey: string;
  key: string;
}

const atAddress =
  (at: MemoryAddress) => (eb: ExpressionBuilder<{ agent_memory: MemoryTable }, 'agent_memory'>) =>
    eb.and([eb('agent_id', '=', at.agentId), eb('scope_key', '=', at.scopeKey), eb('key', '=', at.key)]);

export async function findLiveMemory(db: Db, at: MemoryAddress, now: number): Promise<MemoryRow | undefined> {
  return db.selectFrom('agent_memory').selectAll().where(atAddress(at)).where(live(now)).executeTakeFirst();
}

/** Any row at the address, expired or not (the writer replaces an expired row in place). */
export async function findAnyMemory(db: Db, at: MemoryAddress): Promise<MemoryRow | undefined> {
  return db.selectFrom('agent_memory').selectAll().where(atAddress(at)).executeTakeFirst();
}

/**
 * Inserts the row unless one exists at its address; false when another writer inserted it first
 * (on PostgreSQL that writer may be on another node: this waits for its commit, then gives way).
 */
export async function insertMemory(db: Db, row: Insertable<MemoryTable>): Promise<boolean> {
  const result = await db
    .insertInto('agent_memory')
    .values(row)
    .onConflict((oc) => oc.columns(['agent_id', 'scope_key', 'key']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** Replaces the row only if it still has `expectedVersion`; returns false when someone got there first. */
export async function replaceMemory(
  db: Db,
  at: MemoryAddress,
  expectedVersion: number,
  changes: Pick<MemoryTable, 'value' | 'version' | 'metadata' | 'updated_at' | 'expires_at' | 'created_at'>,
): Promise<boolean> {
  const result = await db
    .updateTable('agent_memory')
    .set(changes)
    .where(atAddress(at))
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Live entries in (scope_key, key) order; `after` is a keyset cursor (the last entry of the previous page). */
export async function listLiveMemory(
  db: Db,
  agentId: string,
  scopeKey: string | undefined,
  prefix: string | undefined,
  now: number,
  limit: number,
  after?: { scopeKey: string; key: string } | undefined,
): Promise<MemoryRow[]> {
  let q = db.selectFrom('agent_memory').selectAll().where('agent_id', '=', agentId).where(live(now));
  if (scopeKey !== undefined) q = q.where('scope_key', '=', scopeKey);
  if (after !== undefined) {
    q = q.where((eb) =>
      eb.or([
        eb('scope_key', '>', after.scopeKey),
        eb.and([eb('scope_key', '=', after.scopeKey), eb('key', '>', after.key)]),
      ]),
    );
  }
  if (prefix !== undefined && prefix.length > 0) {
    // substr comparison instead of LIKE: a prefix may contain % or _ and must match literally.
    // Its length is in characters (code points), as SQL's substr counts them, not UTF-16 units.
    q = q.where((eb) => eb(eb.fn('substr', ['key', eb.lit(1), eb.lit([...prefix].length)]), '=', prefix));
  }
  return q.orderBy('scope_key').orderBy('key').limit(limit).execute();
}

export async function deleteLiveMemory(db: Db, at: MemoryAddress, now: number): Promise<boolean> {
  const result = await db.deleteFrom('agent_memory').where(atAddress(at)).where(live(now)).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

export async function purgeExpiredMemory(db: Db, now: number): Promise<number> {
  const result = await db.deleteFrom('agent_memory').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
