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

/** Inserts a message; returns its id (the row is not read back: its content may be large). */
export async function insertMessage(db: Db, row: NewMessageRow): Promise<number> {
  const inserted = await db.insertInto('messages').values(row).returning('id').executeTakeFirstOrThrow();
  return Number(inserted.id);
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

export async function countVisibleMessages(db: Db, viewer: Viewer, filter: MessageFilter): Promise<number> {
  const row = await filtered(db, viewer, filter)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
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

/** Per-visibility counts of what the viewer can see in a session. */
export async function countVisibleByVisibility(
  db: Db,
  viewer: Viewer,
  sessionId: string,
): Promise<Record<string, number>> {
  const rows = await filtered(db, viewer, { sessionId })
    .select(['messages.visibility', (eb) => eb.fn.countAll<number | string>().as('n')])
    .groupBy('messages.visibility')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.visibility, Number(r.n)]));
}

/** Retention: messages written before `before` (the search index follows by trigger). */
export async function deleteMessagesBefore(db: Db, before: number): Promise<number> {
  const result = await db.deleteFrom('messages').where('created_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Per session (of these ids): how many messages, how many distinct senders, the newest time. */
export async function messageStatsBySession(
  db: Db,
  sessionIds: readonly string[],
): Promise<Array<{ session_id: string; messages: number; senders: number; last_at: number | null }>> {
  if (sessionIds.length === 0) return [];
  const rows = await db
    .selectFrom('messages')
    .select((eb) => [
      'session_id',
      eb.fn.countAll<number | string>().as('messages'),
      eb.fn.count<number | string>('sender').distinct().as('senders'),
      eb.fn.max<number | string | null>('created_at').as('last_at'),
    ])
    .where('session_id', 'in', sessionIds)
    .groupBy('session_id')
    .execute();
  return rows.map((r) => ({
    session_id: r.session_id,
    messages: Number(r.messages),
    senders: Number(r.senders),
    last_at: r.last_at === null ? null : Number(r.last_at),
  }));
}
