import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../store.js';
import { changeTriggerSql } from './0005-changes.js';

/**
 * Revoking an agent (the dashboard's "revoke"): every token of the agent issued before
 * `revoked_before` (ms) is refused, whichever key minted it. Each insert or move of the cut-off
 * records a `revocation` change with no token id, so every process ends the agent's connections.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('agent_revocations')
    .addColumn('agent_id', 'text', (c) => c.primaryKey())
    .addColumn('revoked_before', dialect === 'postgres' ? 'bigint' : 'integer', (c) => c.notNull())
    .addColumn('revoked_by', 'text', (c) => c.notNull())
    .execute();
  const values = "'revocation', NULL, NEW.agent_id, NULL, NEW.revoked_before";
  const triggers = {
    changes_agent_revoked: { on: 'INSERT ON agent_revocations', values },
    changes_agent_revoked_again: { on: 'UPDATE OF revoked_before ON agent_revocations', values },
  };
  for (const [name, trigger] of Object.entries(triggers)) {
    for (const statement of changeTriggerSql(dialect, name, trigger)) await sql.raw(statement).execute(db);
  }
}
