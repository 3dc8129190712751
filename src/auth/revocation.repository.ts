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
