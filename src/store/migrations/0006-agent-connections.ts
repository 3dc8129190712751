import type { Kysely } from 'kysely';
import type { Dialect } from '../store.js';

/**
 * Open agent WebSockets per server process (`node_id`), so presence is the same on every node of a
 * deployment: an agent is connected while some node holds a socket for it and refreshes its row
 * (`seen_at`); the rows of a node that died age out.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('agent_connections')
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('since', bigint, (c) => c.notNull())
    .addColumn('seen_at', bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('agent_connections_pk', ['node_id', 'agent_id'])
    .execute();
  await db.schema
    .createIndex('agent_connections_agent')
    .on('agent_connections')
    .columns(['agent_id', 'seen_at'])
    .execute();
}
