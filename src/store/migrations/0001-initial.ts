import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../store.js';

/** Sessions, the blackboard, agent memory, token revocations and the audit trail. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';

  await db.schema
    .createTable('sessions')
    .addColumn('session_id', 'text', (c) => c.primaryKey())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', bigint, (c) => c.notNull())
    .addColumn('updated_at', bigint, (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('sessions_status_updated')
    .on('sessions')
    .columns(['status', 'updated_at'])
    .execute();
  await db.schema
    .createIndex('sessions_created_by')
    .on('sessions')
    .columns(['created_by', 'created_at'])
    .execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.session_id').onDelete('cascade'))
    .addColumn('sender', 'text', (c) => c.notNull())
    .addColumn('sender_type', 'text', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('visibility', 'text', (c) => c.notNull())
    .addColumn('message_type', 'text', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('parent_message_id', bigint)
    .addColumn('created_at', bigint, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('messages_session_id').on('messages').columns(['session_id', 'id']).execute();
  await db.schema
    .createIndex('messages_session_sender')
    .on('messages')
    .columns(['session_id', 'sender', 'id'])
    .execute();
  await db.schema
    .createIndex('messages_session_time')
    .on('messages')
    .columns(['session_id', 'created_at'])
    .execute();
  await db.schema.createIndex('messages_parent').on('messages').column('parent_message_id').execute();

  await db.schema
    .createTable('agent_memory')
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('scope_key', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('created_at', bigint, (c) => c.notNull())
    .addColumn('updated_at', bigint, (c) => c.notNull())
    .addColumn('expires_at', bigint)
    .addPrimaryKeyConstraint('agent_memory_pk', ['agent_id', 'scope_key', 'key'])
    .execute();
  await db.schema.createIndex('agent_memory_expires').on('agent_memory').column('expires_at').execute();

  await db.schema
    .createTable('revoked_tokens')
    .addColumn('jti', 'text', (c) => c.primaryKey())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('revoked_at', bigint, (c) => c.notNull())
    .addColumn('expires_at', bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('created_at', bigint, (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text')
    .addColumn('resource', 'text')
    .addColumn('details', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_session').on('audit_log').columns(['session_id', 'id']).execute();
  await db.schema.createIndex('audit_agent').on('audit_log').columns(['agent_id', 'id']).execute();
  await db.schema.createIndex('audit_time').on('audit_log').column('created_at').execute();

  if (dialect === 'postgres') {
    // The search index: pg_trgm GIN indexes (typo-tolerant word similarity, and ILIKE for exact
    // substrings), kept by PostgreSQL in the writing transaction. The extension is created before
    // the migrations run (src/store/postgres/pg.store.ts).
    await sql`CREATE INDEX messages_content_trgm ON messages USING gin (content gin_trgm_ops)`.execute(db);
    await sql`CREATE INDEX messages_metadata_trgm ON messages USING gin (metadata gin_trgm_ops)`.execute(db);
  }
  if (dialect === 'sqlite') {
    // The search index: a contentless trigram FTS5 table keyed by message id, fed in batches
    // (see sqlite-search-index.ts) so that writes do not pay one index segment per message.
    await sql`CREATE VIRTUAL TABLE message_search USING fts5(content, metadata, content='', contentless_delete=1, tokenize='trigram')`.execute(
      db,
    );
    await sql`CREATE TABLE search_index_state (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL)`.execute(db);
    await sql`INSERT INTO search_index_state (name, last_id) VALUES ('messages', 0)`.execute(db);
    // Deletes are rare (retention, session purge), so a trigger keeps the index exact for them.
    await sql`CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN DELETE FROM message_search WHERE rowid = old.id; END`.execute(
      db,
    );
  }
}
