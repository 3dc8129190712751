import { sql } from 'kysely';
import type { Db } from './store.js';

/** What a change row records; the reader loads the referenced row of each kind in one query. */
export const CHANGE_KINDS = [
  'message',
  'session',
  'memory',
  'mail',
  'receipt',
  'presence',
  'revocation',
  'agent_key',
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/**
 * One committed change. `session_id` and `agent_id` are routing keys, `ref` names the changed row
 * (or, where nothing needs loading, says what changed):
 *
 * | kind       | session_id         | agent_id           | ref                            |
 * | ---------- | ------------------ | ------------------ | ------------------------------ |
 * | message    | its session        | the sender         | message id                     |
 * | session    | the session        | who changed it     | its status after the change    |
 * | memory     | its scope (or null)| the owner          | the key                        |
 * | mail       |                    | the recipient      | mail id                        |
 * | receipt    |                    | the sender         | mail id (delivered or read)    |
 * | presence   | agent's session    | the agent          | its status (active, idle)      |
 * | revocation |                    | the token's agent  | jti                            |
 * | agent_key  |                    | the key's agent    | `ended` (revoked or replaced) or `issued` |
 */
export interface ChangeRow {
  cursor: number;
  kind: ChangeKind;
  session_id: string | null;
  agent_id: string | null;
  ref: string | null;
  created_at: number;
}

/**
 * The feed of committed changes, owned by the store: a cursor in commit order (a reader that has
 * seen N never later finds a committed change below N), read in pages, with wake-ups.
 */
export interface ChangeFeed {
  /** The cursor of the newest committed change (0 when there is none). */
  head(): Promise<number>;
  /** Whether every committed change after `after` is still kept (retention purged none of them). */
  keeps(after: number): Promise<boolean>;
  /** Retention: deletes changes recorded before `cutoff` (ms), never the newest; returns how many. */
  purgeBefore(cutoff: number): Promise<number>;
  /** Up to `limit` committed changes with a cursor above `after`, in cursor order. */
  read(after: number, limit: number): Promise<ChangeRow[]>;
  /**
   * Calls `listener` after changes were committed: by this process (right after its COMMIT, with
   * the highest cursor it recorded) or by another one (`upTo` unknown). A wake-up only says "read
   * again"; it may come with nothing new. Returns an idempotent unsubscribe.
   */
  onChange(listener: (upTo?: number) => void): () => void;
}

/**
 * Records a change in the caller's transaction, so it commits or rolls back with it — for the one
 * change that is no row write (an agent's WebSocket connected or disconnected). Every row write
 * records its change by itself: a trigger per table (migration 0005).
 */
export async function recordChange(
  trx: Db,
  kind: ChangeKind,
  sessionId: string | null,
  agentId: string | null,
  ref: string | number | null,
  at: number = Date.now(),
): Promise<void> {
  await trx
    .insertInto('changes')
    .values({
      kind,
      session_id: sessionId,
      agent_id: agentId,
      ref: ref === null ? null : String(ref),
      created_at: at,
    })
    .execute();
}

export async function readChanges(db: Db, after: number, limit: number): Promise<ChangeRow[]> {
  // Plain SQL: read after every commit, it should cost no query building.
  const rows = await sql<ChangeRow>`SELECT cursor, kind, session_id, agent_id, ref, created_at FROM changes
    WHERE cursor > ${after} ORDER BY cursor LIMIT ${limit}`.execute(db);
  return rows.rows;
}

export async function headCursor(db: Db): Promise<number> {
  const row = await db
    .selectFrom('changes')
    .select((eb) => eb.fn.max<number | null>('cursor').as('head'))
    .executeTakeFirst();
  return Number(row?.head ?? 0);
}

/** The cursor of the oldest change kept; 0 when there is none. */
export async function oldestCursor(db: Db): Promise<number> {
  const row = await db
    .selectFrom('changes')
    .select((eb) => eb.fn.min<number | null>('cursor').as('oldest'))
    .executeTakeFirst();
  return Number(row?.oldest ?? 0);
}

/**
 * Retention: deletes the changes recorded before `cutoff` (ms), but never the newest one, so the
 * head never moves back. Returns how many went.
 */
export async function purgeChangesBefore(db: Db, cutoff: number): Promise<number> {
  const result = await db
    .deleteFrom('changes')
    .where('created_at', '<', cutoff)
    .where('cursor', '<', (eb) => eb.selectFrom('changes').select((e) => e.fn.max('cursor').as('m')))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
