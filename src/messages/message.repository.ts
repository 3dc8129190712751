import { sql } from 'kysely';
import { compiledOnce } from '../store/compiled-query.js';
import type { Db } from '../store/store.js';
import type { MessageRow, NewMessageRow } from '../store/schema.js';
import { type Viewer, type Visibility, visibleTo } from './visibility.js';

export interface MessageFilter {
  sessionId: string;
  afterId?: number | undefined;
  beforeId?: number | undefined;
  visibility?: Visibility | undefined;
  sender?: string | undefined;
  /** The root message id of a thread: the root and its direct replies. */
  threadId?: number | undefined;
  startTime?: number | undefined;
  endTime?: number | undefined;
}

function filtered(db: Db, viewer: Viewer, f: MessageFilter) {
  let q = db.selectFrom('messages').where('messages.session_id', '=', f.sessionId).where(visibleTo(viewer));
  if (f.afterId !== undefined) q = q.where('messages.id', '>', f.afterId);
  if (f.beforeId !== undefined) q = q.where('messages.id', '<', f.beforeId);
  if (f.visibility !== undefined) q = q.where('messages.visibility', '=', f.visibility);
  if (f.sender !== undefined) q = q.where('messages.sender', '=', f.sender);
  if (f.threadId !== undefined) {
    const root = f.threadId;
    q = q.where((eb) => eb.or([eb('messages.id', '=', root), eb('messages.parent_message_id', '=', root)]));
  }
  if (f.startTime !== undefined) q = q.where('messages.created_at', '>=', f.startTime);
  if (f.endTime !== undefined) q = q.where('messages.created_at', '<=', f.endTime);
  return q;
}

type NewMessageValues = Required<Omit<NewMessageRow, 'id'>>;

/** The insert of every add_message, compiled once (the hot path: see src/store/compiled-query.ts). */
const insertMessageQuery = compiledOnce<NewMessageValues, { id: number }>(
  [
    'session_id',
    'sender',
    'sender_type',
    'content',
    'visibility',
    'message_type',
    'metadata',
    'parent_message_id',
    'created_at',
  ],
  (db, row) => db.insertInto('messages').values(row).returning('id'),
);

/** Inserts a message; returns its id (the row is not read back: its content may be large). */
export async function insertMessage(db: Db, row: NewMessageValues): Promise<number> {
  const inserted = await insertMessageQuery(db, row);
  return Number(inserted.rows[0]!.id);
}

/** The messages with these ids (any order; ids that no longer exist are left out). */
export async function findMessagesByIds(db: Db, ids: readonly number[]): Promise<MessageRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('messages').selectAll().where('id', 'in', ids).execute();
}

/** Visible messages in id order (oldest first), paged by offset or by id cursors. */
export async function listVisibleMessages(
  db: Db,
  viewer: Viewer,
  filter: MessageFilter,
  page: { limit: number; offset?: number | undefined },
): Promise<MessageRow[]> {
  return filtered(db, viewer, filter)
    .selectAll('messages')
    .orderBy('messages.id', 'asc')
    .limit(page.limit)
    .offset(page.offset ?? 0)
    .execute();
}

/** The newest `limit` visible messages, newest first. */
export async function listNewestVisibleMessages(
  db: Db,
  viewer: Viewer,
  filter: MessageFilter,
  limit: number,
): Promise<MessageRow[]> {
  return filtered(db, viewer, filter)
    .selectAll('messages')
    .orderBy('messages.id', 'desc')
    .limit(limit)
    .execute();
}

/** A count of messages, and whether it is the whole count or a lower bound (a count that stopped). */
export interface MessageCount {
  n: number;
  exact: boolean;
}

/**
 * How many messages a bounded count reads at most before it stops and answers a lower bound: the
 * counters cannot answer a thread or a time range, and an unbounded count of a huge one would cost
 * every page as much as reading the whole session.
 */
export const COUNT_SCAN_LIMIT = 10_000;

/**
 * How many visible messages match the filter (its id cursors ignored: the count is of the whole
 * filtered session). Visibility and sender filters are answered from the counters (migration
 * 0010: a sum over the session's few counter rows, whatever its size); a thread or time range is
 * counted from the messages, up to COUNT_SCAN_LIMIT (then `exact` is false).
 */
export async function countVisibleMessages(
  db: Db,
  viewer: Viewer,
  filter: MessageFilter,
): Promise<MessageCount> {
  if (filter.threadId === undefined && filter.startTime === undefined && filter.endTime === undefined) {
    return { n: await sumMessageCounts(db, viewer, filter), exact: true };
  }
  const scanned = filtered(db, viewer, { ...filter, afterId: undefined, beforeId: undefined })
    .select(sql.lit(1).as('one'))
    .limit(COUNT_SCAN_LIMIT + 1)
    .as('scanned');
  const row = await db
    .selectFrom(scanned)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  const n = Number(row.n);
  return n > COUNT_SCAN_LIMIT ? { n: COUNT_SCAN_LIMIT, exact: false } : { n, exact: true };
}

/**
 * The session's counter rows the viewer may see. The counter table is named `messages` in the
 * query so that THE visibility rule (visibleTo) applies to it as written: it reads only
 * visibility, sender and sender_type, which the counters are kept by.
 */
function visibleCounters(db: Db, viewer: Viewer, sessionId: string) {
  return db
    .selectFrom('message_counts as messages')
    .where('messages.session_id', '=', sessionId)
    .where(visibleTo(viewer));
}

/** The visible messages of a session by the counters, narrowed by visibility and sender. */
async function sumMessageCounts(
  db: Db,
  viewer: Viewer,
  filter: Pick<MessageFilter, 'sessionId' | 'visibility' | 'sender'>,
): Promise<number> {
  let q = visibleCounters(db, viewer, filter.sessionId);
  if (filter.visibility !== undefined) q = q.where('messages.visibility', '=', filter.visibility);
  if (filter.sender !== undefined) q = q.where('messages.sender', '=', filter.sender);
  const row = await q
    .select((eb) => eb.fn.sum<number | string | null>('messages.n').as('n'))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function getVisibleMessage(
  db: Db,
  viewer: Viewer,
  sessionId: string,
  id: number,
): Promise<MessageRow | undefined> {
  return filtered(db, viewer, { sessionId })
    .selectAll('messages')
    .where('messages.id', '=', id)
    .executeTakeFirst();
}

/** Per-visibility counts of what the viewer can see in a session (visibilities it has none of are left out). */
export async function countVisibleByVisibility(
  db: Db,
  viewer: Viewer,
  sessionId: string,
): Promise<Record<string, number>> {
  const rows = await visibleCounters(db, viewer, sessionId)
    .select(['messages.visibility', (eb) => eb.fn.sum<number | string>('messages.n').as('n')])
    .groupBy('messages.visibility')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.visibility, Number(r.n)]).filter(([, n]) => n !== 0));
}

/** Retention: messages written before `before` (the search index follows by trigger). */
export async function deleteMessagesBefore(db: Db, before: number): Promise<number> {
  const result = await db.deleteFrom('messages').where('created_at', '<', before).executeTakeFirst();
  // The delete trigger took the messages off their counters; those left at zero go too.
  await db.deleteFrom('message_counts').where('n', '=', 0).execute();
  return Number(result.numDeletedRows);
}

/**
 * Per session (of these ids): how many messages, how many distinct senders (both from the
 * counters), the newest time (one index lookup per session). Sessions without messages are left out.
 */
export async function messageStatsBySession(
  db: Db,
  sessionIds: readonly string[],
): Promise<Array<{ session_id: string; messages: number; senders: number; last_at: number | null }>> {
  if (sessionIds.length === 0) return [];
  const rows = await db
    .selectFrom('message_counts as c')
    .select((eb) => [
      'c.session_id',
      eb.fn.sum<number | string>('c.n').as('messages'),
      sql<number | string>`count(DISTINCT CASE WHEN c.n > 0 THEN c.sender END)`.as('senders'),
      eb
        .selectFrom('messages')
        .select((m) => m.fn.max<number | string | null>('messages.created_at').as('last_at'))
        .whereRef('messages.session_id', '=', 'c.session_id')
        .as('last_at'),
    ])
    .where('c.session_id', 'in', sessionIds)
    .groupBy('c.session_id')
    .execute();
  return rows
    .filter((r) => Number(r.messages) > 0)
    .map((r) => ({
      session_id: r.session_id,
      messages: Number(r.messages),
      senders: Number(r.senders),
      last_at: r.last_at === null ? null : Number(r.last_at),
    }));
}
