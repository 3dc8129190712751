import type { Insertable } from 'kysely';
import type { MailRow, MailTable } from '../store/schema.js';
import type { Db } from '../store/store.js';

export async function insertMail(db: Db, rows: Insertable<MailTable>[]): Promise<MailRow[]> {
  if (rows.length === 0) return [];
  return db.insertInto('mail').values(rows).returningAll().execute();
}

export async function listInbox(
  db: Db,
  agentId: string,
  filter: { afterId?: number | undefined; unreadOnly?: boolean | undefined },
  limit: number,
): Promise<MailRow[]> {
  let q = db.selectFrom('mail').selectAll().where('to_agent', '=', agentId);
  if (filter.afterId !== undefined) q = q.where('id', '>', filter.afterId);
  if (filter.unreadOnly) q = q.where('read_at', 'is', null);
  return q.orderBy('id', 'asc').limit(limit).execute();
}

export async function listSent(
  db: Db,
  agentId: string,
  afterId: number | undefined,
  limit: number,
): Promise<MailRow[]> {
  let q = db.selectFrom('mail').selectAll().where('from_agent', '=', agentId);
  if (afterId !== undefined) q = q.where('id', '>', afterId);
  return q.orderBy('id', 'asc').limit(limit).execute();
}

/** The mail rows with these ids (any order; ids that no longer exist are left out). */
export async function findMailByIds(db: Db, ids: readonly number[]): Promise<MailRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('mail').selectAll().where('id', 'in', ids).execute();
}

export async function findMail(db: Db, id: number): Promise<MailRow | undefined> {
  return db.selectFrom('mail').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Marks the recipient's mail delivered; returns the rows that changed (were undelivered). */
export async function markDelivered(db: Db, agentId: string, ids: number[], at: number): Promise<MailRow[]> {
  if (ids.length === 0) return [];
  return db
    .updateTable('mail')
    .set({ delivered_at: at })
    .where('to_agent', '=', agentId)
    .where('id', 'in', ids)
    .where('delivered_at', 'is', null)
    .returningAll()
    .execute();
}

export async function markRead(
  db: Db,
  agentId: string,
  id: number,
  at: number,
): Promise<MailRow | undefined> {
  return db
    .updateTable('mail')
    .set((eb) => ({
      read_at: eb.fn.coalesce('read_at', eb.val(at)),
      delivered_at: eb.fn.coalesce('delivered_at', eb.val(at)),
    }))
    .where('to_agent', '=', agentId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** Mail sent and received per agent, over the whole mail table (a dashboard overview). */
export async function mailCountsByAgent(db: Db): Promise<Map<string, { sent: number; received: number }>> {
  const [sent, received] = await Promise.all([
    db
      .selectFrom('mail')
      .select((eb) => ['from_agent as agent', eb.fn.countAll<number | string>().as('n')])
      .groupBy('from_agent')
      .execute(),
    db
      .selectFrom('mail')
      .select((eb) => ['to_agent as agent', eb.fn.countAll<number | string>().as('n')])
      .groupBy('to_agent')
      .execute(),
  ]);
  const counts = new Map<string, { sent: number; received: number }>();
  const entry = (agent: string) => {
    let found = counts.get(agent);
    if (!found) counts.set(agent, (found = { sent: 0, received: 0 }));
    return found;
  };
  for (const r of sent) entry(r.agent).sent = Number(r.n);
  for (const r of received) entry(r.agent).received = Number(r.n);
  return counts;
}

/** Mail counted per (sender, recipient): in all, and how many of them were replies. */
export async function mailEdges(
  db: Db,
  limit: number,
): Promise<Array<{ from: string; to: string; mail: number; replies: number }>> {
  const rows = await db
    .selectFrom('mail')
    .select((eb) => [
      'from_agent',
      'to_agent',
      eb.fn.countAll<number | string>().as('n'),
      eb.fn.count<number | string>('reply_to').as('replies'),
    ])
    .groupBy(['from_agent', 'to_agent'])
    .orderBy('n', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    from: r.from_agent,
    to: r.to_agent,
    mail: Number(r.n),
    replies: Number(r.replies),
  }));
}
