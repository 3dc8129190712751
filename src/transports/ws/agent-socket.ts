import type { WebSocket } from 'ws';
import { AppError } from '../../core/errors.js';
import type { Services } from '../../app/services.js';
import type { Credentials, Principal } from '../../auth/principal.js';
import type { MailView } from '../../events/events.js';
import type { MessageView } from '../../messages/message.view.js';
import type { PushTarget } from '../../realtime/push-hub.js';

/** WebSocket close code 1013 "try again later": reconnect with ?after_id= to resume. */
export const SLOW_CONSUMER_CLOSE = 1013;
const SLOW_CONSUMER_REASON =
  'slow consumer: reconnect with ?after_id= (or subscribe with after_id) to resume';
const BACKLOG_PAGE = 500;

/** A live event held while a backlog is read, with the frame it becomes (its size is what is counted). */
interface Held<T> {
  item: T;
  text: string;
}

interface SessionFeed {
  /** The highest message id sent on this connection for the session. */
  lastId: number;
  /** Live messages that arrive while the backlog is being read. */
  buffer: Held<MessageView>[] | undefined;
}

/**
 * One agent's WebSocket: pushes its mail and the messages of sessions it subscribed to, in id
 * order, each at most once. On (re)connect the backlog comes from the database (mail after
 * ?after_id=, else undelivered mail), with live events buffered meanwhile, so a reconnect loses
 * and duplicates nothing.
 *
 * Memory per client is bounded by `limits.maxClientBufferBytes`: the bytes queued on the socket
 * plus the live events held while a backlog is read. Past it the client alone is closed with 1013
 * and resumes from the database with its cursor.
 */
export class AgentSocket implements PushTarget {
  readonly agentId: string;
  private lastMailId = 0;
  private mailBuffer: Held<MailView>[] | undefined = [];
  /** Size (in characters, about bytes) of the frames held in `mailBuffer` and the feeds' buffers. */
  private heldBytes = 0;
  private readonly maxBufferBytes: number;
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
    this.maxBufferBytes = services.config.limits.maxClientBufferBytes;
    if (principal.expiresAt !== undefined) {
      const ms = principal.expiresAt * 1000 - Date.now();
      // setTimeout holds at most ~24.8 days: a longer-lived token closes then, and the client reconnects.
      this.expiry = setTimeout(() => this.end(4001, 'token expired'), Math.max(0, Math.min(ms, 2 ** 31 - 1)));
      this.expiry.unref();
    }
  }

  /** Sends `welcome`, the mail backlog, whatever arrived meanwhile, then `backlog_done`. */
  async start(afterId: number | undefined): Promise<void> {
    this.send({ type: 'welcome', agent_id: this.agentId, resumed_after: afterId ?? null });
    let count = 0;
    let cursor = afterId ?? 0;
    for (;;) {
      const page = await this.services.mail.backlog(this.principal, {
        afterId: cursor,
        undeliveredOnly: afterId === undefined,
        limit: BACKLOG_PAGE,
      });
      if (this.closed) return;
      for (const mail of page.messages) if (this.pushMail(mail)) count++;
      if (page.next_cursor === null) break;
      cursor = page.next_cursor;
    }
    const buffered = this.release(this.mailBuffer);
    this.mailBuffer = undefined;
    for (const held of buffered) if (this.pushMail(held.item, held.text)) count++;
    this.send({ type: 'backlog_done', count });
  }

  onMail(mail: MailView): void {
    if (this.mailBuffer) this.hold(this.mailBuffer, mail, JSON.stringify({ type: 'mail', mail }));
    else this.pushMail(mail);
  }

  /** Sends one mail unless it was already sent; true when it went out. */
  private pushMail(mail: MailView, text = JSON.stringify({ type: 'mail', mail })): boolean {
    if (mail.id <= this.lastMailId) return false;
    this.lastMailId = mail.id;
    if (!this.sendText(text)) return false;
    if (mail.delivered_at === null) {
      this.services.mail
        .delivered(this.agentId, [{ id: mail.id, delivered_at: null }])
        .catch((error: unknown) =>
          this.services.logger.warn({ err: error }, 'marking mail delivered failed'),
        );
    }
    return true;
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

  /** A message of a followed session it may see (the hub checked); `serialized` is shared between sockets. */
  onSessionMessage(message: MessageView, serialized: string): void {
    const feed = this.sessions.get(message.session_id);
    if (!feed) return;
    if (feed.buffer) {
      this.hold(feed.buffer, message, serialized);
      return;
    }
    if (message.id <= feed.lastId) return;
    feed.lastId = message.id;
    this.sendText(serialized);
  }

  async subscribe(sessionId: string, afterId: number | undefined): Promise<void> {
    // A new subscribe to the same session replaces the old feed; the old backlog read stops.
    this.release(this.sessions.get(sessionId)?.buffer);
    const feed: SessionFeed = { lastId: afterId ?? 0, buffer: afterId === undefined ? undefined : [] };
    this.sessions.set(sessionId, feed);
    if (afterId === undefined) {
      // No cursor: live from now on (history is one get_messages away).
      await this.services.sessions.require(sessionId);
    } else {
      try {
        for (;;) {
          const page = await this.services.messages.list(
            this.principal,
            { sessionId, afterId: feed.lastId },
            { limit: BACKLOG_PAGE, offset: 0 },
          );
          if (this.closed || this.sessions.get(sessionId) !== feed) return;
          for (const message of page.messages) this.pushSessionMessage(feed, message);
          if (!page.has_more) break;
        }
      } catch (error) {
        this.release(feed.buffer);
        // A read superseded by a newer subscribe (or an unsubscribe) has nobody left to tell.
        if (this.sessions.get(sessionId) !== feed) return;
        throw error;
      }
      const buffered = this.release(feed.buffer);
      feed.buffer = undefined;
      for (const held of buffered) this.pushSessionMessage(feed, held.item, held.text);
    }
    this.send({ type: 'subscribed', session_id: sessionId, after_id: feed.lastId });
  }

  private pushSessionMessage(feed: SessionFeed, message: MessageView, text?: string): void {
    if (message.id <= feed.lastId) return;
    feed.lastId = message.id;
    this.sendText(text ?? JSON.stringify({ type: 'session_message', message }));
  }

  /** Holds a live event while a backlog is read; past the client's budget the client is cut off. */
  private hold<T>(buffer: Held<T>[], item: T, text: string): void {
    if (this.closed) return;
    this.heldBytes += text.length;
    if (this.ws.bufferedAmount + this.heldBytes > this.maxBufferBytes) {
      this.end(SLOW_CONSUMER_CLOSE, SLOW_CONSUMER_REASON);
      return;
    }
    buffer.push({ item, text });
  }

  /** Empties a buffer and takes its events out of the held budget; returns them, to be sent. */
  private release<T>(buffer: Held<T>[] | undefined): Held<T>[] {
    const items = buffer?.splice(0) ?? [];
    for (const held of items) this.heldBytes -= held.text.length;
    return items;
  }

  unsubscribe(sessionId: string): void {
    this.release(this.sessions.get(sessionId)?.buffer);
    this.sessions.delete(sessionId);
    this.send({ type: 'unsubscribed', session_id: sessionId });
  }

  send(payload: object): boolean {
    return this.sendText(JSON.stringify(payload));
  }

  /** Sends unless the client is too slow, in which case it is closed to resume later. */
  sendText(text: string): boolean {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return false;
    if (this.ws.bufferedAmount + this.heldBytes > this.maxBufferBytes) {
      this.end(SLOW_CONSUMER_CLOSE, SLOW_CONSUMER_REASON);
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
        ...(error.details !== undefined ? { details: error.details } : {}),
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

  onRevoked(): void {
    this.end(4001, 'token revoked');
  }

  /** Closes the socket (e.g. its token was revoked or expired); nothing more is sent. */
  end(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.expiry);
    this.ws.close(code, reason);
  }
}
