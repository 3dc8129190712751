import type { Insertable } from 'kysely';
import type { Db } from '../store/store.js';
import type { SessionRow, SessionTable } from '../store/schema.js';

export async function insertSession(db: Db, row: Insertable<SessionTable>): Promise<void> {
  await db.insertInto('sessions').values(row).execute();
}

export async function findSession(db: Db, sessionId: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('session_id', '=', sessionId).executeTakeFirst();
}

export interface SessionListFilter {
  status?: string | undefined;
  createdBy?: string | undefined;
  /** Keyset cursor: the (updated_at, session_id) of the last row of the previous page. */
  cursor?: { updatedAt: number; sessionId: string } | undefined;
}

/** Newest-updated first, keyset-paged. */
export async function listSessions(db: Db, filter: SessionListFilter, limit: number): Promise<SessionRow[]> {
  let q = db.selectFrom('sessions').selectAll();
  if (filter.status !== undefined) q = q.where('status', '=', filter.status);
  if (filter.createdBy !== undefined) q = q.where('created_by', '=', filter.createdBy);
  const cursor = filter.cursor;
  if (cursor !== undefined) {
    q = q.where((eb) =>
      eb.or([
        eb('updated_at', '<', cursor.updatedAt),
        eb.and([eb('updated_at', '=', cursor.updatedAt), eb('session_id', '<', cursor.sessionId)]),
      ]),
    );
  }
  return q.orderBy('updated_at', 'desc').orderBy('session_id', 'desc').limit(limit).execute();
}

export async function updateSession(
  db: Db,
  sessionId: string,
  changes: Partial<Pick<SessionTable, 'purpose' | 'status' | 'metadata' | 'updated_at'>>,
): Promise<SessionRow | undefined> {
  return db
    .updateTable('sessions')
    .set(changes)
    .where('session_id', '=', sessionId)
    .returningAll()
    .executeTakeFirst();
}

/** Retention: archived sessions untouched since `before` go, with their messages (cascade). */
export async function deleteArchivedSessionsBefore(db: Db, before: number): Promise<number> {
  const result = await db
    .deleteFrom('sessions')
    .where('status', '=', 'archived')
    .where('updated_at', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
