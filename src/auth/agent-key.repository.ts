import type { AgentKeyRow } from '../store/schema.js';
import type { Db } from '../store/store.js';

export async function insertAgentKey(db: Db, row: AgentKeyRow): Promise<void> {
  await db.insertInto('agent_keys').values(row).execute();
}

/** Marks the agent's active key revoked; returns how many rows changed (0 or 1). */
export async function revokeActiveKey(db: Db, agentId: string, at: number, by: string): Promise<number> {
  const result = await db
    .updateTable('agent_keys')
    .set({ revoked_at: at, revoked_by: by, updated_at: at })
    .where('agent_id', '=', agentId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function findActiveKey(db: Db, agentId: string): Promise<AgentKeyRow | undefined> {
  return db
    .selectFrom('agent_keys')
    .selectAll()
    .where('agent_id', '=', agentId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

export async function findKeyByHash(db: Db, keyHash: string): Promise<AgentKeyRow | undefined> {
  return db.selectFrom('agent_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
}

export async function findKeyById(db: Db, keyId: string): Promise<AgentKeyRow | undefined> {
  return db.selectFrom('agent_keys').selectAll().where('key_id', '=', keyId).executeTakeFirst();
}

/** Rows issued or revoked at or after `since` (epoch ms), oldest change first. */
export async function keysChangedSince(db: Db, since: number): Promise<AgentKeyRow[]> {
  return db
    .selectFrom('agent_keys')
    .selectAll()
    .where('updated_at', '>=', since)
    .orderBy('updated_at')
    .execute();
}

export async function listAgentKeys(
  db: Db,
  filter: { includeRevoked: boolean; agentId?: string | undefined },
): Promise<AgentKeyRow[]> {
  let query = db.selectFrom('agent_keys').selectAll();
  if (!filter.includeRevoked) query = query.where('revoked_at', 'is', null);
  if (filter.agentId !== undefined) query = query.where('agent_id', '=', filter.agentId);
  return query.orderBy('agent_id').orderBy('created_at', 'desc').execute();
}
