import type { Insertable } from 'kysely';
import type { AgentRow, AgentTable } from '../store/schema.js';
import type { Db } from '../store/store.js';

export async function upsertAgent(db: Db, row: Insertable<AgentTable>): Promise<AgentRow> {
  return db
    .insertInto('agents')
    .values(row)
    .onConflict((oc) =>
      oc.column('agent_id').doUpdateSet({
        agent_type: row.agent_type,
        name: row.name ?? null,
        capabilities: row.capabilities,
        session_id: row.session_id ?? null,
        last_activity: row.last_activity,
        last_heartbeat: row.last_heartbeat ?? null,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findAgent(db: Db, agentId: string): Promise<AgentRow | undefined> {
  return db.selectFrom('agents').selectAll().where('agent_id', '=', agentId).executeTakeFirst();
}

export async function listAgents(db: Db, sessionId: string | undefined, limit: number): Promise<AgentRow[]> {
  let q = db.selectFrom('agents').selectAll();
  if (sessionId !== undefined) q = q.where('session_id', '=', sessionId);
  return q.orderBy('agent_id').limit(limit).execute();
}

export async function recordHeartbeat(
  db: Db,
  agentId: string,
  at: number,
  statusHint: string | null,
): Promise<AgentRow | undefined> {
  return db
    .updateTable('agents')
    .set({ last_heartbeat: at, last_activity: at, status_hint: statusHint })
    .where('agent_id', '=', agentId)
    .returningAll()
    .executeTakeFirst();
}

/** Raises last_activity (never lowers it) for agents seen since the last flush. */
export async function touchAgents(db: Db, seen: ReadonlyMap<string, number>): Promise<void> {
  for (const [agentId, at] of seen) {
    await db
      .updateTable('agents')
      .set({ last_activity: at })
      .where('agent_id', '=', agentId)
      .where('last_activity', '<', at)
      .execute();
  }
}
