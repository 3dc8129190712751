/**
 * The bare baseline on PostgreSQL: a plain node:http server (bare-http.ts) doing add_message's
 * insert of the same row into the server's own `messages` table (its indexes and change trigger
 * included) through a `pg` pool, one transaction per insert (BEGIN, INSERT … RETURNING, COMMIT),
 * with nothing else: no session lookup, no stream lock, no audit row, no NOTIFY. Runs as a
 * benchmark child: prints { url, sessionId } on stdout.
 *
 * Env: BARE_DATABASE_URL (a schema the server migrated), BARE_SESSION_ID (a session in it),
 * BARE_POOL_SIZE (10, the server's DATABASE_POOL_SIZE default).
 */
import pg from 'pg';
import { type BareBody, type BareRow, rowValues, serveBare } from './bare-http.js';

const url = process.env.BARE_DATABASE_URL;
const sessionId = process.env.BARE_SESSION_ID;
if (url === undefined || sessionId === undefined)
  throw new Error('bare-pg-baseline: BARE_DATABASE_URL and BARE_SESSION_ID are required');
const pool = new pg.Pool({ connectionString: url, max: Number(process.env.BARE_POOL_SIZE ?? 10) });
pool.on('error', () => undefined);
const agentId = 'bench-agent';

const INSERT = `INSERT INTO messages (session_id, sender, sender_type, content, visibility, message_type,
    metadata, parent_message_id, created_at)
  VALUES ($1, $2, 'generic', $3, $4, $5, $6, NULL, $7) RETURNING id, created_at`;

async function insert(body: BareBody): Promise<BareRow> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await client.query<{ id: string; created_at: string }>({
      name: 'bare-insert',
      text: INSERT,
      values: rowValues(body, agentId),
    });
    await client.query('COMMIT');
    const row = result.rows[0]!;
    return { id: Number(row.id), created_at: Number(row.created_at) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

serveBare(insert, { sessionId }, () => pool.end());
