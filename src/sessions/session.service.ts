import { AppError } from '../core/errors.js';
import { newSessionId } from '../core/ids.js';
import { fromJsonText, toJsonText } from '../core/json.js';
import { nowMs, toIso } from '../core/time.js';
import { auditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { DEFAULT_MAX_REPLY_BYTES, type PageInfo, jsonBytes, pageInfo, readPage } from '../core/paging.js';
import type { MessageView } from '../messages/message.view.js';
import {
  countVisibleByVisibility,
  insertMessage,
  messageStatsBySession,
} from '../messages/message.repository.js';
import { readNewestMessages } from '../messages/message.pages.js';
import type { Viewer } from '../messages/visibility.js';
import type { SessionRow } from '../store/schema.js';
import type { Db, Storage } from '../store/store.js';
import {
  deleteArchivedSessionsBefore,
  findSession,
  findSessionStatus,
  insertSession,
  listSessions,
  sessionIdsWithPrefix,
  sessionsOfAgent,
  updateSession,
} from './session.repository.js';

export const SESSION_STATUSES = ['active', 'completed', 'archived'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export interface SessionView {
  session_id: string;
  purpose: string;
  status: string;
  created_by: string;
  created_at: string;
  updated_at: string;
  metadata: Record<string, unknown> | null;
}

/** A session with what an overview shows of its messages (the dashboard's sessions table). */
export interface SessionSummary extends SessionView {
  message_count: number;
  /** Distinct senders of its messages. */
  agent_count: number;
  /** The newest message's time, else the session's last update. */
  last_activity: string;
}

export const toSessionView = (row: SessionRow): SessionView => ({
  session_id: row.session_id,
  purpose: row.purpose,
  status: row.status,
  created_by: row.created_by,
  created_at: toIso(Number(row.created_at)),
  updated_at: toIso(Number(row.updated_at)),
  metadata: fromJsonText(row.metadata),
});

export const sessionNotFound = (sessionId: string) =>
  new AppError(
    'SESSION_NOT_FOUND',
    `No session "${sessionId}" exists. Check the id, or call list_sessions to find one.`,
    {
      suggestions: ['list_sessions', 'create_session'],
    },
  );

/** Returns the session or throws SESSION_NOT_FOUND. */
export async function requireSession(db: Db, sessionId: string): Promise<SessionRow> {
  const row = await findSession(db, sessionId);
  if (row === undefined) throw sessionNotFound(sessionId);
  return row;
}

/** The session's status (`active` / `archived`), or SESSION_NOT_FOUND: what a write to it checks. */
export async function requireSessionStatus(db: Db, sessionId: string): Promise<string> {
  const status = await findSessionStatus(db, sessionId);
  if (status === undefined) throw sessionNotFound(sessionId);
  return status;
}

/** Cursors are opaque to callers: base64url of "updated_at:session_id". */
const encodeCursor = (row: SessionRow) =>
  Buffer.from(`${row.updated_at}:${row.session_id}`).toString('base64url');

function decodeCursor(cursor: string): { updatedAt: number; sessionId: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  const updatedAt = Number(at);
  if (!Number.isSafeInteger(updatedAt) || id === undefined || id.length === 0) {
    throw new AppError(
      'INVALID_INPUT',
      'cursor is not one this server returned: pass next_cursor from a previous list_sessions.',
    );
  }
  return { updatedAt, sessionId: id };
}

export class SessionService {
  constructor(
    private readonly store: Storage,
    /** MAX_REPLY_BYTES: a page of sessions, or a session's messages, ends early beyond it. */
    private readonly maxReplyBytes = DEFAULT_MAX_REPLY_BYTES,
  ) {}

  async create(
    caller: Principal,
    input: {
      purpose: string;
      metadata?: Record<string, unknown> | undefined;
      initialMessage?: string | undefined;
    },
  ): Promise<{ session_id: string; created_by: string; created_at: string; initial_message_id?: number }> {
    const sessionId = newSessionId();
    const now = nowMs();
    const initial = await this.store.write(async (trx) => {
      await insertSession(trx, {
        session_id: sessionId,
        purpose: input.purpose,
        status: 'active',
        created_by: caller.agentId,
        created_at: now,
        updated_at: now,
        metadata: toJsonText(input.metadata ?? null),
      });
      let messageId: number | undefined;
      if (input.initialMessage !== undefined) {
        messageId = await insertMessage(trx, {
          session_id: sessionId,
          sender: caller.agentId,
          sender_type: caller.agentType,
          content: input.initialMessage,
          visibility: 'public',
          message_type: 'agent_response',
          metadata: toJsonText(null),
          parent_message_id: null,
          created_at: now,
        });
      }
      await auditService.record(trx, {
        agentId: caller.agentId,
        action: 'create_session',
        sessionId,
        details: { purpose: input.purpose },
      });
      return messageId;
    });
    return {
      session_id: sessionId,
      created_by: caller.agentId,
      created_at: toIso(now),
      ...(initial !== undefined ? { initial_message_id: initial } : {}),
    };
  }

  async get(
    viewer: Viewer,
    sessionId: string,
    messageLimit = 50,
  ): Promise<{
    session: SessionView;
    messages: MessageView[];
    message_count: number;
    counts: Record<string, number>;
    /** Older visible messages exist than those returned (get_messages reads them all). */
    has_more: boolean;
    truncated_by_bytes: boolean;
  }> {
    const row = await requireSession(this.store.db, sessionId);
    const session = toSessionView(row);
    const newest = await readNewestMessages(
      this.store.db,
      viewer,
      { sessionId },
      messageLimit,
      Math.max(0, this.maxReplyBytes - jsonBytes(session)),
    );
    const counts = await countVisibleByVisibility(this.store.db, viewer, sessionId);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    return {
      session,
      messages: newest.messages,
      message_count: total,
      counts,
      has_more: newest.has_more,
      truncated_by_bytes: newest.truncated_by_bytes,
    };
  }

  async list(filter: {
    status?: SessionStatus | undefined;
    createdBy?: string | undefined;
    /** Text the purpose or the session id contains. */
    text?: string | undefined;
    limit: number;
    cursor?: string | undefined;
  }): Promise<{ sessions: SessionView[] } & PageInfo<string>> {
    const first = filter.cursor !== undefined ? decodeCursor(filter.cursor) : undefined;
    const where = { status: filter.status, createdBy: filter.createdBy, text: filter.text };
    const page = await readPage<{ row: SessionRow; view: SessionView }>({
      limit: filter.limit,
      maxBytes: this.maxReplyBytes,
      sizeOf: (item) => jsonBytes(item.view),
      next: async (last, n) =>
        (
          await listSessions(
            this.store.db,
            {
              ...where,
              cursor: last
                ? { updatedAt: Number(last.row.updated_at), sessionId: last.row.session_id }
                : first,
            },
            n,
          )
        ).map((row) => ({ row, view: toSessionView(row) })),
    });
    return {
      sessions: page.items.map((item) => item.view),
      ...pageInfo(page, (item) => encodeCursor(item.row)),
    };
  }

  /** A page of `list` with every session's message and sender counts (all messages: an admin's view). */
  async overview(
    filter: Parameters<SessionService['list']>[0],
  ): Promise<{ sessions: SessionSummary[] } & PageInfo<string>> {
    const { sessions, ...page } = await this.list(filter);
    return { sessions: await this.summarize(sessions), ...page };
  }

  /** One session with its counts: in all, and per visibility of what `viewer` may see. */
  async summary(
    viewer: Viewer,
    sessionId: string,
  ): Promise<{ session: SessionSummary; counts: Record<string, number> }> {
    const [session] = await this.summarize([toSessionView(await requireSession(this.store.db, sessionId))]);
    const counts = await countVisibleByVisibility(this.store.db, viewer, sessionId);
    return { session: session!, counts };
  }

  private async summarize(sessions: SessionView[]): Promise<SessionSummary[]> {
    const stats = new Map(
      (
        await messageStatsBySession(
          this.store.db,
          sessions.map((s) => s.session_id),
        )
      ).map((row) => [row.session_id, row]),
    );
    return sessions.map((s) => {
      const found = stats.get(s.session_id);
      return {
        ...s,
        message_count: found?.messages ?? 0,
        agent_count: found?.senders ?? 0,
        last_activity:
          found?.last_at != null && toIso(found.last_at) > s.updated_at ? toIso(found.last_at) : s.updated_at,
      };
    });
  }

  /** Session ids starting with `prefix` (every agent may read every session; visibility is per message). */
  completeIds(prefix: string, limit: number): Promise<string[]> {
    return sessionIdsWithPrefix(this.store.db, prefix, limit);
  }

  /** The sessions `agentId` created or wrote in, most recently updated first. */
  async ofAgent(agentId: string, limit: number): Promise<SessionView[]> {
    return (await sessionsOfAgent(this.store.db, agentId, limit)).map(toSessionView);
  }

  async update(
    caller: Principal,
    sessionId: string,
    changes: {
      status?: SessionStatus | undefined;
      purpose?: string | undefined;
      metadata?: Record<string, unknown> | undefined;
    },
  ): Promise<SessionView> {
    const view = await this.store.write(async (trx) => {
      const current = await requireSession(trx, sessionId);
      if (current.created_by !== caller.agentId && !caller.isAdmin) {
        throw new AppError(
          'PERMISSION_DENIED',
          `Only the session's creator (${current.created_by}) or an admin can update it.`,
        );
      }
      const row = await updateSession(trx, sessionId, {
        ...(changes.status !== undefined ? { status: changes.status } : {}),
        ...(changes.purpose !== undefined ? { purpose: changes.purpose } : {}),
        ...(changes.metadata !== undefined ? { metadata: toJsonText(changes.metadata) } : {}),
        updated_at: nowMs(),
      });
      if (row === undefined) throw sessionNotFound(sessionId);
      await auditService.record(trx, {
        agentId: caller.agentId,
        action: 'update_session',
        sessionId,
        details: {
          status: changes.status,
          purpose: changes.purpose,
          metadata_changed: changes.metadata !== undefined,
        },
      });
      return toSessionView(row);
    });
    return view;
  }

  /** The session, or SESSION_NOT_FOUND (every agent may read every session; visibility is per message). */
  async require(sessionId: string): Promise<SessionView> {
    return toSessionView(await requireSession(this.store.db, sessionId));
  }

  /** Retention: deletes archived sessions not updated since `cutoff` (ms), with their messages; returns how many. */
  purgeArchivedBefore(cutoff: number): Promise<number> {
    return this.store.write((trx) => deleteArchivedSessionsBefore(trx, cutoff));
  }
}
