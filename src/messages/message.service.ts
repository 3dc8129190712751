import { AppError } from '../core/errors.js';
import { toJsonText } from '../core/json.js';
import { DEFAULT_MAX_REPLY_BYTES, type PageInfo } from '../core/paging.js';
import { nowMs, toIso } from '../core/time.js';
import { auditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { requireSession, requireSessionStatus } from '../sessions/session.service.js';
import type { Storage } from '../store/store.js';
import { type NewestMessages, readMessagePage, readNewestMessages } from './message.pages.js';
import {
  type MessageFilter,
  countVisibleMessages,
  deleteMessagesBefore,
  findMessagesByIds,
  getVisibleMessage,
  insertMessage,
} from './message.repository.js';
import { type MessageView, toMessageView } from './message.view.js';
import type { Viewer, Visibility } from './visibility.js';

/** The visibilities a message may have (for adapters, which do not reach the visibility rule itself). */
export { VISIBILITIES } from './visibility.js';
/** Where a count that the counters cannot answer stops (for the tool's description). */
export { COUNT_SCAN_LIMIT } from './message.repository.js';

export interface NewMessage {
  sessionId: string;
  content: string;
  visibility: Visibility;
  messageType: string;
  metadata?: Record<string, unknown> | undefined;
  parentMessageId?: number | undefined;
}

export interface MessagePage extends PageInfo<number> {
  messages: MessageView[];
  /** The visible messages matching the filters, cursors aside (a lower bound when total_count_exact is false). */
  total_count: number;
  /** Present (false) only when total_count is a lower bound: a thread counted up to COUNT_SCAN_LIMIT. */
  total_count_exact?: false;
  /** Present when the caller paged by a deep offset: how to page cheaply instead. */
  hint?: string;
}

/**
 * From this offset on, the reply suggests the cursor: an offset re-reads every message it skips on
 * each call (docs/pages.md has the figures), `after_id` starts where the last page ended.
 */
export const OFFSET_HINT_FROM = 1_000;

export const messageNotFound = (sessionId: string, id: number) =>
  new AppError('MESSAGE_NOT_FOUND', `No message ${id} that you can see exists in session ${sessionId}.`, {
    suggestions: ['get_messages'],
  });

export class MessageService {
  constructor(
    private readonly store: Storage,
    private readonly limits: { maxContentLength: number; maxMetadataBytes: number; maxReplyBytes?: number },
  ) {}

  private get maxReplyBytes(): number {
    return this.limits.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  }

  async add(caller: Principal, input: NewMessage): Promise<{ message_id: number; timestamp: string }> {
    if (input.content.length > this.limits.maxContentLength) {
      throw new AppError(
        'PAYLOAD_TOO_LARGE',
        `content is ${input.content.length} characters; the limit is ${this.limits.maxContentLength}. Split it into several messages or store it in memory.`,
      );
    }
    const metadata = toJsonText(input.metadata ?? null);
    if (Buffer.byteLength(metadata) > this.limits.maxMetadataBytes) {
      throw new AppError(
        'PAYLOAD_TOO_LARGE',
        `metadata is larger than ${this.limits.maxMetadataBytes} bytes as JSON.`,
      );
    }
    if (input.visibility === 'admin_only' && !caller.isAdmin) {
      throw new AppError(
        'PERMISSION_DENIED',
        'Only admins may write admin_only messages. Use public, private or agent_only.',
      );
    }
    // Subscribers hear of the message from the change feed (src/realtime/feed-reader.ts), which
    // the change row recorded below wakes right after the group's COMMIT.
    const written = await this.store.write(
      async (trx) => {
        if ((await requireSessionStatus(trx, input.sessionId)) === 'archived') {
          throw new AppError(
            'CONFLICT',
            `Session ${input.sessionId} is archived and takes no new messages.`,
            {
              suggestions: ['update_session with status "active" to reopen it', 'create_session'],
            },
          );
        }
        if (input.parentMessageId !== undefined) {
          const parent = await getVisibleMessage(trx, caller, input.sessionId, input.parentMessageId);
          if (parent === undefined) throw messageNotFound(input.sessionId, input.parentMessageId);
        }
        const now = nowMs();
        const id = await insertMessage(trx, {
          session_id: input.sessionId,
          sender: caller.agentId,
          sender_type: caller.agentType,
          content: input.content,
          visibility: input.visibility,
          message_type: input.messageType,
          metadata,
          parent_message_id: input.parentMessageId ?? null,
          created_at: now,
        });
        await auditService.record(trx, {
          agentId: caller.agentId,
          action: 'add_message',
          sessionId: input.sessionId,
          resource: `message:${id}`,
          details: { visibility: input.visibility, message_type: input.messageType },
        });
        return { id, now };
      },
      { streams: [`session:${input.sessionId}`] },
    );
    return { message_id: written.id, timestamp: toIso(written.now) };
  }

  async get(viewer: Viewer, sessionId: string, id: number): Promise<MessageView> {
    await requireSession(this.store.db, sessionId);
    const row = await getVisibleMessage(this.store.db, viewer, sessionId, id);
    if (row === undefined) throw messageNotFound(sessionId, id);
    return toMessageView(row);
  }

  /**
   * A page in id order, ended early once its messages reach MAX_REPLY_BYTES (has_more,
   * truncated_by_bytes); `after_id` = next_cursor continues it without loss or repeats.
   */
  async list(
    viewer: Viewer,
    filter: MessageFilter,
    page: { limit: number; offset: number },
  ): Promise<MessagePage> {
    await requireSession(this.store.db, filter.sessionId);
    const { messages, ...info } = await readMessagePage(
      this.store.db,
      viewer,
      filter,
      page,
      this.maxReplyBytes,
    );
    const total = await countVisibleMessages(this.store.db, viewer, filter);
    return {
      messages,
      ...info,
      total_count: total.n,
      ...(total.exact ? {} : { total_count_exact: false as const }),
      ...(page.offset >= OFFSET_HINT_FROM
        ? {
            hint: `offset ${page.offset} re-reads the ${page.offset} messages it skips on every call; pass after_id = next_cursor to continue from a page instead.`,
          }
        : {}),
    };
  }

  /** Newest `limit` visible messages within the reply budget, oldest first (resources). */
  async newestPage(viewer: Viewer, filter: MessageFilter, limit: number): Promise<NewestMessages> {
    await requireSession(this.store.db, filter.sessionId);
    return readNewestMessages(this.store.db, viewer, filter, limit, this.maxReplyBytes);
  }

  /** The messages with these ids, whoever may see them (the change feed's reader filters per subscriber). */
  async byIds(ids: readonly number[]): Promise<MessageView[]> {
    return (await findMessagesByIds(this.store.db, ids)).map(toMessageView);
  }

  /** Retention: deletes the messages created before `cutoff` (ms); returns how many. */
  purgeBefore(cutoff: number): Promise<number> {
    return this.store.write((trx) => deleteMessagesBefore(trx, cutoff));
  }
}
