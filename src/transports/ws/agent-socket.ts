import type { WebSocket } from 'ws';
import { AppError } from '../../core/errors.js';
import type { Services } from '../../app/services.js';
import type { Credentials, Principal } from '../../auth/principal.js';
import type { MailView } from '../../events/events.js';
import type { MessageView } from '../../messages/message.view.js';
import { canSee } from '../../messages/visibility.js';
import { listInbox } from '../../agents/mail.repository.js';
import { toMailView } from '../../agents/mail.service.js';
import { requireSession } from '../../sessions/session.service.js';

/** Above this many queued bytes a client is too slow: it is closed and resumes from the database. */
export const HIGH_WATER_BYTES = 1024 * 1024;
/** WebSocket close code 1013 "try again later": reconnect with ?after_id= to resume. */
export const SLOW_CONSUMER_CLOSE = 1013;
const BACKLOG_PAGE = 500;

interface SessionFeed {
  /** The highest message id sent on this connection for the session. */
  lastId: number;
  /** Live messages that arrive while the backlog is being read. */
  buffer: MessageView[] | undefined;
}

/**
 * One agent's WebSocket: pushes its mail and the messages of sessions it subscribed to, in id
 * order, each at most once. On (re)connect the backlog comes from the database (mail after
 * ?after_id=, else undelivered mail), with live events buffered meanwhile, so a reconnect loses
 * and duplicates nothing.
 */
export class AgentSocket {
  readonly agentId: string;
  private lastMailId = 0;
  private mailBuffer: MailView[] | undefined = [];
  readonly sessions = new Map<string, SessionFeed>();
  private closed = false;
  private expiry: NodeJS.Timeout | undefined;

  constructor(
    private readonly ws: WebSocket,
    readonly principal: Principal,
    /** The upgrade request's credentials: frames that are tools run with them (and are re-checked). */
    readonly credentials: Credentials,
    private readonly services: Services,
  ) {
    this.agentId = principal.agentId;
    if (principal.expiresAt !== undefined) {
      const ms = principal.expiresAt * 1000 - Date.now();
      // setTimeout holds at most ~24.8 days: a longer-lived token closes then, and the client reconnects.
      this.expiry = setTimeout(() => this.end(4001, 'token expired'), Math.max(0, Math.min(ms, 2 ** 31 - 1)));
      this.expiry.unref();
    }
  }

  /** Sends the mail backlog, then whatever arrived meanwhile. */
  async start(afterId: number | undefined): Promise<void> {
    let pending = 0;
    let cursor = afterId ?? 0;
    for (;;) {
      const rows = await listInbox(this.services.store.db, this.agentId, { afterId: cursor }, BACKLOG_PAGE);
      const wanted = afterId === undefined ? rows.filter((r) => r.delivered_at === null) : rows;
      for (const row of wanted) this.pushMail(toMailView(row));
      pending += wanted.length;
      const last = rows.at(-1);
      if (rows.length < BACKLOG_PAGE || last === undefined) break;
      cursor = Number(last.id);
    }
    const buffered = this.mailBuffer ?? [];
    this.mailBuffer = undefined;
    for (const mail of buffered) this.pushMail(mail);
    this.send({ type: 'welcome', agent_id: this.agentId, resumed_after: afterId ?? null, backlog: pending });
  }

  onMail(mail: MailView): void {
    if (this.mailBuffer) this.mailBuffer.push(mail);
    else this.pushMail(mail);
  }

  private pushMail(mail: MailView): void {
    if (mail.id <= this.lastMailId) return;
    this.lastMailId = mail.id;
    if (!this.send({ type: 'mail', mail })) return;
    if (mail.delivered_at === null) {
      this.services.mail
        .delivered(this.agentId, [{ id: mail.id, delivered_at: null }])
        .catch((error: unknown) =>
          this.services.logger.warn({ err: error }, 'marking mail delivered failed'),
        );
    }
  }

  onReceipt(mail: MailView): void {
    this.send({
      type: 'receipt',
      message_id: mail.id,
      to: mail.to,
      delivered_at: mail.delivered_at,
      read_at: mail.read_at,
    });
  }

  /** A message of a subscribed session; `serialized` is shared between all sockets it goes to. */
  onSessionMessage(message: MessageView, serialized: string): void {
    const feed = this.sessions.get(message.session_id);
    if (!feed || !canSee(this.principal, message)) return;
    if (feed.buffer) {
      feed.buffer.push(message);
      return;
    }
    if (message.id <= feed.lastId) return;
    feed.lastId = message.id;
    this.sendText(serialized);
  }

  async subscribe(sessionId: string, afterId: number | undefined): Promise<void> {
    if (this.sessions.has(sessionId)) this.sessions.delete(sessionId);
    const feed: SessionFeed = { lastId: afterId ?? 0, buffer: afterId === undefined ? undefined : [] };
    this.sessions.set(sessionId, feed);
    if (afterId === undefined) {
      // No cursor: live from now on (history is one get_messages away).
      await requireSession(this.services.store.db, sessionId);
    } else {
      for (;;) {
        const page = await this.services.messages.list(
          this.principal,
          { sessionId, afterId: feed.lastId },
          { limit: BACKLOG_PAGE, offset: 0 },
        );
        for (const message of page.messages) this.pushSessionMessage(feed, message);
        if (!page.has_more) break;
      }
      const buffered = feed.buffer ?? [];
      feed.buffer = undefined;
      for (const message of buffered) this.pushSessionMessage(feed, message);
    }
    this.send({ type: 'subscribed', session_id: sessionId, after_id: feed.lastId });
  }

  private pushSessionMessage(feed: SessionFeed, message: MessageView): void {
    if (message.id <= feed.lastId) return;
    feed.lastId = message.id;
    this.send({ type: 'session_message', message });
  }

  unsubscribe(sessionId: string): void {
    this.sessions.delete(sessionId);
    this.send({ type: 'unsubscribed', session_id: sessionId });
  }

  send(payload: object): boolean {
    return this.sendText(JSON.stringify(payload));
  }

  /** Sends unless the client is too slow, in which case it is closed to resume later. */
  sendText(text: string): boolean {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return false;
    if (this.ws.bufferedAmount > HIGH_WATER_BYTES) {
      this.closed = true;
      this.ws.close(SLOW_CONSUMER_CLOSE, 'slow consumer: reconnect with ?after_id= to resume');
      return false;
    }
    this.ws.send(text);
    return true;
  }

  error(error: unknown): void {
    if (error instanceof AppError) {
      this.send({
        type: 'error',
        code: error.code,
        error: error.message,
        ...(error.retryAfter !== undefined ? { retry_after: error.retryAfter } : {}),
      });
    } else {
      this.services.logger.error({ err: error }, 'websocket handler failed');
      this.send({ type: 'error', code: 'INTERNAL_ERROR', error: 'The server hit an unexpected error.' });
    }
  }

  markClosed(): void {
    this.closed = true;
    clearTimeout(this.expiry);
  }

  /** Closes the socket (e.g. its token was revoked or expired); nothing more is sent. */
  end(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.expiry);
    this.ws.close(code, reason);
  }
}
