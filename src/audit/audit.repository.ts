import type { Insertable } from 'kysely';
import { compiledOnce } from '../store/compiled-query.js';
import type { Db } from '../store/store.js';
import type { AuditRow, AuditTable } from '../store/schema.js';

type AuditValues = Required<Omit<Insertable<AuditTable>, 'id'>>;

/** Every write records one: compiled once (src/store/compiled-query.ts). */
const insertAuditQuery = compiledOnce<AuditValues, never>(
  ['created_at', 'agent_id', 'action', 'session_id', 'resource', 'details'],
  (db, row) => db.insertInto('audit_log').values(row),
);

export async function insertAudit(db: Db, row: AuditValues): Promise<void> {
  await insertAuditQuery(db, row);
}

export async function listAudit(
  db: Db,
  filter: { sessionId?: string | undefined; agentId?: string | undefined; beforeId?: number | undefined },
  limit: number,
): Promise<AuditRow[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (filter.sessionId !== undefined) q = q.where('session_id', '=', filter.sessionId);
  if (filter.agentId !== undefined) q = q.where('agent_id', '=', filter.agentId);
  if (filter.beforeId !== undefined) q = q.where('id', '<', filter.beforeId);
  return q.orderBy('id', 'desc').limit(limit).execute();
}

export async function purgeAuditBefore(db: Db, before: number): Promise<number> {
  const result = await db.deleteFrom('audit_log').where('created_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
