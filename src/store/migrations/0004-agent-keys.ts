import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../store.js';

/**
 * Agent keys: a key bound to one agent id and type, issued by an admin. Only a hash of the key is
 * kept. A revoked key stays as a row (revoked_at) so that every process sharing the database learns
 * of the revocation; `updated_at` is what those processes poll for changes.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('agent_keys')
    .addColumn('key_id', 'text', (c) => c.primaryKey())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('agent_type', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', bigint, (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('revoked_at', bigint)
    .addColumn('revoked_by', 'text')
    .addColumn('updated_at', bigint, (c) => c.notNull())
    .execute();
  // At most one active key per agent, even when two processes issue at once.
  await db.schema
    .createIndex('agent_keys_active')
    .on('agent_keys')
    .column('agent_id')
    .unique()
    .where(sql.ref('revoked_at'), 'is', null)
    .execute();
  await db.schema
    .createIndex('agent_keys_agent')
    .on('agent_keys')
    .columns(['agent_id', 'created_at'])
    .execute();
  await db.schema.createIndex('agent_keys_updated').on('agent_keys').column('updated_at').execute();
}
