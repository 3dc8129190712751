import type { Kysely } from 'kysely';
import type { Dialect } from '../store.js';

/**
 * What several nodes of one deployment share beyond the data (docs/postgres.md):
 * - `nodes` and `agent_connections`: open agent WebSockets per server process (`node_id`), so
 *   presence is the same on every node: an agent is connected while some live node holds a socket
 *   for it. A node refreshes its one `nodes` row (`seen_at`) every few seconds; the connections of
 *   a node that stopped refreshing (it died) stop counting.
 * - `mcp_sessions`: a 2025-era MCP session's state (its agent, the initialize request, the URIs it
 *   subscribed to), so another node can take the session over when the client comes back there.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('nodes')
    .addColumn('node_id', 'text', (c) => c.primaryKey())
    .addColumn('started_at', bigint, (c) => c.notNull())
    .addColumn('seen_at', bigint, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('agent_connections')
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('since', bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('agent_connections_pk', ['node_id', 'agent_id'])
    .execute();
  await db.schema.createIndex('agent_connections_agent').on('agent_connections').column('agent_id').execute();

  await db.schema
    .createTable('mcp_sessions')
    .addColumn('session_id', 'text', (c) => c.primaryKey())
    .addColumn('agent_id', 'text')
    .addColumn('initialize', 'text', (c) => c.notNull())
    .addColumn('subscriptions', 'text', (c) => c.notNull())
    .addColumn('created_at', bigint, (c) => c.notNull())
    .addColumn('seen_at', bigint, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('mcp_sessions_seen').on('mcp_sessions').column('seen_at').execute();
}
