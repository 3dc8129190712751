import type { Db } from '../store/store.js';

export async function insertRevocation(
  db: Db,
  row: { jti: string; agent_id: string; revoked_at: number; expires_at: number },
): Promise<void> {
  await db
    .insertInto('revoked_tokens')
    .values(row)
    .onConflict((oc) => oc.column('jti').doNothing())
    .execute();
}

export async function isRevoked(db: Db, jti: string): Promise<boolean> {
  const row = await db.selectFrom('revoked_tokens').select('jti').where('jti', '=', jti).executeTakeFirst();
  return row !== undefined;
}

/** A revocation is only needed until the token would have expired anyway. */
export async function purgeExpiredRevocations(db: Db, now: number): Promise<number> {
  const result = await db.deleteFrom('revoked_tokens').where('expires_at', '<', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Every token of the agent issued until `before` (ms) is revoked; a later revocation moves it on. */
export async function upsertAgentRevocation(
  db: Db,
  agentId: string,
  before: number,
  by: string,
): Promise<void> {
  await db
    .insertInto('agent_revocations')
    .values({ agent_id: agentId, revoked_before: before, revoked_by: by })
    .onConflict((oc) => oc.column('agent_id').doUpdateSet({ revoked_before: before, revoked_by: by }))
    .execute();
}

export async function findAgentRevocation(db: Db, agentId: string): Promise<number | undefined> {
  const row = await db
    .selectFrom('agent_revocations')
    .select('revoked_before')
    .where('agent_id', '=', agentId)
    .executeTakeFirst();
  return row === undefined ? undefined : Number(row.revoked_before);
}

export async function listAgentRevocations(
  db: Db,
): Promise<Array<{ agent_id: string; revoked_before: number }>> {
  const rows = await db.selectFrom('agent_revocations').select(['agent_id', 'revoked_before']).execute();
  return rows.map((r) => ({ agent_id: r.agent_id, revoked_before: Number(r.revoked_before) }));
}
