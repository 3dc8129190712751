import { AppError } from '../core/errors.js';
import { fromJsonText, toJsonText } from '../core/json.js';
import { DEFAULT_MAX_REPLY_BYTES, type PageInfo, jsonBytes, pageInfo, readPage } from '../core/paging.js';
import { nowMs, toIso, toIsoOrNull } from '../core/time.js';
import { auditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import type { MailView } from '../events/events.js';
import type { MailRow } from '../store/schema.js';
import type { Storage } from '../store/store.js';
import type { AgentService } from './agent.service.js';
import {
  findMail,
  findMailByIds,
  insertMail,
  listInbox,
  listSent,
  mailCountsByAgent,
  mailEdges,
  markDelivered,
  markRead,
} from './mail.repository.js';

export type { MailView };

export const toMailView = (row: MailRow): MailView => ({
  id: Number(row.id),
  from: row.from_agent,
  to: row.to_agent,
  type: row.type,
  content: fromJsonText(row.content),
  metadata: fromJsonText(row.metadata),
  reply_to: row.reply_to === null ? null : Number(row.reply_to),
  created_at: toIso(Number(row.created_at)),
  delivered_at: toIsoOrNull(row.delivered_at === null ? null : Number(row.delivered_at)),
  read_at: toIsoOrNull(row.read_at === null ? null : Number(row.read_at)),
});

const MAX_RECIPIENTS = 1000;

const mailNotFound = (id: number) =>
  new AppError('MESSAGE_NOT_FOUND', `No mail ${id} addressed to you exists.`, { suggestions: ['get_inbox'] });

export interface MailPage extends PageInfo<number> {
  messages: MailView[];
}

/** JSON bytes of a mail as it will be returned: an undelivered one gains its delivered_at. */
const mailBytes = (view: MailView): number =>
  jsonBytes(view.delivered_at === null ? { ...view, delivered_at: view.created_at } : view);

/**
 * Agent-to-agent mail. Every mail is a row per recipient, so an agent that is away finds it in
 * its inbox; pushes (WebSocket, subscriptions) are only a faster way to learn of it.
 */
export class MailService {
  constructor(
    private readonly store: Storage,
    private readonly agents: AgentService,
    private readonly maxContentLength: number,
    /** MAX_REPLY_BYTES: an inbox or sent page ends early beyond it. */
    private readonly maxReplyBytes = DEFAULT_MAX_REPLY_BYTES,
  ) {}

  async send(
    caller: Principal,
    input: {
      to: string | string[];
      content: unknown;
      type: string;
      metadata?: Record<string, unknown> | undefined;
      replyTo?: number | undefined;
    },
  ): Promise<{ message_ids: number[]; recipients: string[]; count: number; created_at: string }> {
    const content = toJsonText(input.content);
    if (content.length > this.maxContentLength) {
      throw new AppError(
        'PAYLOAD_TOO_LARGE',
        `The mail content is ${content.length} characters as JSON; the limit is ${this.maxContentLength}.`,
      );
    }
    const recipients =
      input.to === 'ALL'
        ? await this.agents.broadcastAudience(caller.agentId)
        : [...new Set(Array.isArray(input.to) ? input.to : [input.to])];
    if (recipients.length === 0) {
      throw new AppError(
        'NOT_FOUND',
        'No recipients: "ALL" reaches registered agents of your session, and none other is registered.',
        {
          suggestions: ['list_agents', 'register_agent'],
        },
      );
    }
    if (recipients.length > MAX_RECIPIENTS)
      throw new AppError('INVALID_INPUT', `At most ${MAX_RECIPIENTS} recipients per mail.`);
    if (input.replyTo !== undefined) {
      const original = await findMail(this.store.db, input.replyTo);
      if (
        original === undefined ||
        (original.to_agent !== caller.agentId && original.from_agent !== caller.agentId)
      ) {
        throw mailNotFound(input.replyTo);
      }
    }
    const now = nowMs();
    const metadata = toJsonText(input.metadata ?? null);
    const rows = await this.store.write(
      async (trx) => {
        const inserted = await insertMail(
          trx,
          recipients.map((to) => ({
            from_agent: caller.agentId,
            to_agent: to,
            type: input.type,
            content,
            metadata,
            reply_to: input.replyTo ?? null,
            created_at: now,
          })),
        );
        await auditService.record(trx, {
          agentId: caller.agentId,
          action: 'send_message',
          resource: `mail:${inserted.map((r) => r.id).join(',')}`,
          details: { to: input.to === 'ALL' ? 'ALL' : recipients, type: input.type },
        });
        return inserted;
      },
      { streams: recipients.map((to) => `inbox:${to}`) },
    );
    return {
      message_ids: rows.map((r) => Number(r.id)),
      recipients,
      count: rows.length,
      created_at: toIso(now),
    };
  }

  /** The caller's inbox in id order; what it returns counts as delivered. */
  async inbox(
    caller: Principal,
    filter: { afterId?: number | undefined; unreadOnly: boolean; limit: number },
  ): Promise<MailPage> {
    const page = await readPage<MailView>({
      limit: filter.limit,
      maxBytes: this.maxReplyBytes,
      sizeOf: mailBytes,
      next: async (last, n) =>
        (
          await listInbox(this.store.db, caller.agentId, last ? { ...filter, afterId: last.id } : filter, n)
        ).map(toMailView),
    });
    const delivered = await this.delivered(caller.agentId, page.items);
    return {
      messages: page.items.map((m) => delivered.get(m.id) ?? m),
      ...pageInfo(page, (m) => m.id),
    };
  }

  /**
   * One page of the caller's inbox after `afterId`, in id order, for a push channel (the WebSocket
   * backlog): nothing is marked delivered here. With `undeliveredOnly`, mail delivered already is
   * left out. `next_cursor` resumes after the last row read (returned or not); null at the end.
   */
  async backlog(
    caller: Principal,
    filter: { afterId: number; undeliveredOnly: boolean; limit: number },
  ): Promise<{ messages: MailView[]; next_cursor: number | null }> {
    const rows = await listInbox(this.store.db, caller.agentId, { afterId: filter.afterId }, filter.limit);
    const wanted = filter.undeliveredOnly ? rows.filter((r) => r.delivered_at === null) : rows;
    const last = rows.at(-1);
    return {
      messages: wanted.map(toMailView),
      next_cursor: rows.length < filter.limit || last === undefined ? null : Number(last.id),
    };
  }

  /** Marks pushed or fetched mail delivered and tells the senders. Returns the updated views by id. */
  async delivered(
    agentId: string,
    rows: ReadonlyArray<{ id: number; delivered_at: unknown }>,
  ): Promise<Map<number, MailView>> {
    const ids = rows.filter((r) => r.delivered_at === null).map((r) => Number(r.id));
    if (ids.length === 0) return new Map();
    const now = nowMs();
    const changed = await this.store.write((trx) => markDelivered(trx, agentId, ids, now));
    return new Map(changed.map((row) => [Number(row.id), toMailView(row)]));
  }

  async sent(caller: Principal, afterId: number | undefined, limit: number): Promise<MailPage> {
    const page = await readPage<MailView>({
      limit,
      maxBytes: this.maxReplyBytes,
      sizeOf: jsonBytes,
      next: async (last, n) =>
        (await listSent(this.store.db, caller.agentId, last ? last.id : afterId, n)).map(toMailView),
    });
    return { messages: page.items, ...pageInfo(page, (m) => m.id) };
  }

  /** The mail with these ids as it is now, whoever it is for (the change feed's reader routes it). */
  async byIds(ids: readonly number[]): Promise<MailView[]> {
    return (await findMailByIds(this.store.db, ids)).map(toMailView);
  }

  async ack(caller: Principal, id: number): Promise<MailView> {
    const now = nowMs();
    const row = await this.store.write(async (trx) => {
      const updated = await markRead(trx, caller.agentId, id, now);
      if (updated === undefined) throw mailNotFound(id);
      return updated;
    });
    return toMailView(row);
  }

  /** Mail sent and received per agent id (the dashboard's agents page). */
  countsByAgent(): Promise<Map<string, { sent: number; received: number }>> {
    return mailCountsByAgent(this.store.db);
  }

  /** Who mailed whom, and how often (the dashboard's graph); the busiest `limit` pairs. */
  edges(limit = 5_000): Promise<Array<{ from: string; to: string; mail: number; replies: number }>> {
    return mailEdges(this.store.db, limit);
  }
}
