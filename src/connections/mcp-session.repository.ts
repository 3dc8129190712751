import type { McpSessionRow, McpSessionTable } from '../store/schema.js';
import type { Db } from '../store/store.js';

export async function insertMcpSession(db: Db, row: McpSessionTable): Promise<void> {
  await db
    .insertInto('mcp_sessions')
    .values(row)
    .onConflict((oc) => oc.column('session_id').doNothing())
    .execute();
}

export async function findMcpSession(db: Db, sessionId: string): Promise<McpSessionRow | undefined> {
  return db.selectFrom('mcp_sessions').selectAll().where('session_id', '=', sessionId).executeTakeFirst();
}

export async function updateMcpSession(
  db: Db,
  sessionId: string,
  changes: Partial<Pick<McpSessionTable, 'agent_id' | 'subscriptions' | 'seen_at'>>,
): Promise<void> {
  await db.updateTable('mcp_sessions').set(changes).where('session_id', '=', sessionId).execute();
}

export async function deleteMcpSession(db: Db, sessionId: string): Promise<void> {
  await db.deleteFrom('mcp_sessions').where('session_id', '=', sessionId).execute();
}

export async function purgeMcpSessionsSeenBefore(db: Db, cutoff: number): Promise<number> {
  const result = await db.deleteFrom('mcp_sessions').where('seen_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}
