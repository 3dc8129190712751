import type { Kysely } from 'kysely';
import type { Dialect } from '../store.js';

/** The agent registry (presence) and agent-to-agent mail. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';

  await db.schema
    .createTable('agents')
    .addColumn('agent_id', 'text', (c) => c.primaryKey())
    .addColumn('agent_type', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('capabilities', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text')
    .addColumn('status_hint', 'text')
    .addColumn('registered_at', bigint, (c) => c.notNull())
    .addColumn('last_heartbeat', bigint)
    .addColumn('last_activity', bigint, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('agents_session').on('agents').column('session_id').execute();

  await db.schema
    .createTable('mail')
    .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('from_agent', 'text', (c) => c.notNull())
    .addColumn('to_agent', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('reply_to', bigint)
    .addColumn('created_at', bigint, (c) => c.notNull())
    .addColumn('delivered_at', bigint)
    .addColumn('read_at', bigint)
    .execute();
  await db.schema.createIndex('mail_to').on('mail').columns(['to_agent', 'id']).execute();
  await db.schema.createIndex('mail_from').on('mail').columns(['from_agent', 'id']).execute();
}
