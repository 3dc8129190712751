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

/** This node is alive (and holds the connections recorded under its id). */
export async function touchNode(db: Db, nodeId: string, now: number): Promise<void> {
  await db
    .insertInto('nodes')
    .values({ node_id: nodeId, started_at: now, seen_at: now })
    .onConflict((oc) => oc.column('node_id').doUpdateSet({ seen_at: now }))
    .execute();
}

/** This node holds a WebSocket of the agent. */
export async function insertConnection(db: Db, nodeId: string, agentId: string, now: number): Promise<void> {
  await db
    .insertInto('agent_connections')
    .values({ node_id: nodeId, agent_id: agentId, since: now })
    .onConflict((oc) => oc.columns(['node_id', 'agent_id']).doNothing())
    .execute();
}

export async function deleteConnection(db: Db, nodeId: string, agentId?: string): Promise<void> {
  let q = db.deleteFrom('agent_connections').where('node_id', '=', nodeId);
  if (agentId !== undefined) q = q.where('agent_id', '=', agentId);
  await q.execute();
}

/** This node stopped: its row and its connections go. */
export async function deleteNode(db: Db, nodeId: string): Promise<void> {
  await deleteConnection(db, nodeId);
  await db.deleteFrom('nodes').where('node_id', '=', nodeId).execute();
}

/** Nodes that stopped refreshing before `staleBefore` (they died), and their connections, go. */
export async function purgeDeadNodes(db: Db, staleBefore: number): Promise<void> {
  const dead = db.selectFrom('nodes').select('node_id').where('seen_at', '<', staleBefore);
  await db.deleteFrom('agent_connections').where('node_id', 'in', dead).execute();
  await db.deleteFrom('nodes').where('seen_at', '<', staleBefore).execute();
}

/** The agents (of `agentIds`, or all) with a WebSocket open on a node seen since `since`. */
export async function connectedAgents(
  db: Db,
  since: number,
  agentIds?: readonly string[],
): Promise<Set<string>> {
  let q = db
    .selectFrom('agent_connections')
    .innerJoin('nodes', 'nodes.node_id', 'agent_connections.node_id')
    .select('agent_connections.agent_id')
    .distinct()
    .where('nodes.seen_at', '>=', since);
  if (agentIds !== undefined) {
    if (agentIds.length === 0) return new Set();
    q = q.where('agent_connections.agent_id', 'in', agentIds);
  }
  return new Set((await q.execute()).map((r) => r.agent_id));
}
