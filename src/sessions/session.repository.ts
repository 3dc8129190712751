import { type Insertable, sql } from 'kysely';
import { compiledOnce } from '../store/compiled-query.js';
import type { Db } from '../store/store.js';
import type { SessionRow, SessionTable } from '../store/schema.js';

export async function insertSession(db: Db, row: Insertable<SessionTable>): Promise<void> {
  await db.insertInto('sessions').values(row).execute();
}

export async function findSession(db: Db, sessionId: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('session_id', '=', sessionId).executeTakeFirst();
}

/** A session's status alone (each write checks it), compiled once (src/store/compiled-query.ts). */
const sessionStatusQuery = compiledOnce<{ session_id: string }, { status: string }>(['session_id'], (db, p) =>
  db.selectFrom('sessions').select('status').where('session_id', '=', p.session_id),
);

export async function findSessionStatus(db: Db, sessionId: string): Promise<string | undefined> {
  return (await sessionStatusQuery(db, { session_id: sessionId })).rows[0]?.status;
}

export interface SessionListFilter {
  status?: string | undefined;
  createdBy?: string | undefined;
  /** Text the purpose or the session id contains (LIKE; case-insensitive for ASCII on SQLite). */
  text?: string | undefined;
  /** Keyset cursor: the (updated_at, session_id) of the last row of the previous page. */
  cursor?: { updatedAt: number; sessionId: string } | undefined;
}

/** Newest-updated first, keyset-paged. */
export async function listSessions(db: Db, filter: SessionListFilter, limit: number): Promise<SessionRow[]> {
  let q = db.selectFrom('sessions').selectAll();
  if (filter.status !== undefined) q = q.where('status', '=', filter.status);
  if (filter.createdBy !== undefined) q = q.where('created_by', '=', filter.createdBy);
  if (filter.text !== undefined) {
    const pattern = `%${filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where((eb) =>
      eb.or([
        sql<boolean>`${eb.ref('purpose')} like ${pattern} escape '\\'`,
        sql<boolean>`${eb.ref('session_id')} like ${pattern} escape '\\'`,
      ]),
    );
  }
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

/** Session ids starting with `prefix`, in id order: a range on the primary key. */
export async function sessionIdsWithPrefix(db: Db, prefix: string, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('sessions')
    .select('session_id')
    .where('session_id', '>=', prefix)
    .where('session_id', '<', `${prefix}\uffff`)
    .orderBy('session_id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.session_id);
}

/**
 * The sessions an agent created or wrote in, most recently updated first. "Wrote in" is read from
 * the audit log's per-agent index (its newest `scan` rows), so the cost is bounded whatever the
 * size of the messages table.
 */
export async function sessionsOfAgent(
  db: Db,
  agentId: string,
  limit: number,
  scan = 5000,
): Promise<SessionRow[]> {
  const touched = db
    .selectFrom((eb) =>
      eb
        .selectFrom('audit_log')
        .select('session_id')
        .where('agent_id', '=', agentId)
        .where('session_id', 'is not', null)
        .orderBy('id', 'desc')
        .limit(scan)
        .as('recent'),
    )
    .select('recent.session_id')
    .$narrowType<{ session_id: string }>();
  return db
    .selectFrom('sessions')
    .selectAll()
    .where((eb) => eb.or([eb('created_by', '=', agentId), eb('session_id', 'in', touched)]))
    .orderBy('updated_at', 'desc')
    .orderBy('session_id', 'desc')
    .limit(limit)
    .execute();
}
