import type { ChangeSummary, DomainEvent, FeedEvents, MailView } from '../events/events.js';
import type { MessageView } from '../messages/message.view.js';
import type { ChangeFeed, ChangeRow } from '../store/change-feed.js';

/**
 * How a write reaches a subscriber — the whole path, in order:
 *
 * 1. A service writes through `store.write` (one transaction; group commit on SQLite). The row
 *    write itself records a change row — a trigger per table (migration 0005; the kinds are listed
 *    in src/store/change-feed.ts): kind, routing keys, a reference, no content. The change commits
 *    or rolls back with the write; its cursor is in commit order.
 * 2. The store's change feed wakes the reader: right after this process's COMMIT, or — for a
 *    commit by another process on the same database (a `stdio` process beside `serve`) — from its
 *    cross-process signal (SQLite: `PRAGMA data_version` on a short timer). A wake-up carries at
 *    most a cursor, never a row.
 * 3. This reader (one per process) reads the changes after its cursor once, in cursor order, keeps
 *    those some listener wants (someone here follows that session or agent), loads the rows they
 *    reference in one query per kind, and hands each as a DomainEvent to the listeners that want it.
 * 4. The listeners, all in src/realtime/, fan out per subscriber with the one visibility rule:
 *    ResourceSubscriptions (MCP `resources/subscribe` and `subscriptions/listen`), MessageWaiter
 *    (`wait_for_messages`) and PushHub (WebSocket sockets). Transports only hand them sockets and
 *    streams.
 *
 * A consumer that was away (a reconnecting client) does not replay events from here: it reads the
 * database from its own cursor (`after_id`) while holding live events, as before.
 */
export interface ChangeLoader {
  /** The messages with these ids (ones deleted since are left out). */
  messages(ids: readonly number[]): Promise<MessageView[]>;
  /** The mail rows with these ids, as they are now (ones deleted since are left out). */
  mail(ids: readonly number[]): Promise<MailView[]>;
}

export interface FeedReaderOptions {
  /** REQUIRE_AGENT_KEYS: an agent's first key ends the connections it had opened on the shared key. */
  issuedKeyEndsConnections: boolean;
  /** A failed read is reported here and retried after RETRY_MS. */
  onError: (error: unknown) => void;
  /** Every change read, wanted or not (metrics count them by kind). */
  onRead?: (change: ChangeSummary) => void;
  /** Changes read per query (tests lower it to cross page boundaries). */
  batch?: number;
}

type Listener = (event: DomainEvent) => void;
type Wants = (change: ChangeSummary) => boolean;
const EVERYTHING: Wants = () => true;

const DEFAULT_BATCH = 500;
const RETRY_MS = 200;

/** Tails the change feed from the head it finds at start; see the path above. */
export class FeedReader implements FeedEvents {
  private readonly listeners = new Map<Listener, Wants>();
  private cursor = 0;
  /** A drain is running; `draining` is its promise (kept after it settles, for `caughtUp` and `close`). */
  private reading = false;
  private draining: Promise<void> | undefined;
  /** A wake-up arrived during a drain: read once more after it. */
  private again = false;
  private stopWaking: (() => void) | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly batch: number;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly loader: ChangeLoader,
    private readonly options: FeedReaderOptions,
  ) {
    this.batch = options.batch ?? DEFAULT_BATCH;
  }

  /** Starts at the feed's head: what was committed before the process started is history. */
  async start(): Promise<void> {
    this.cursor = await this.feed.head();
    this.stopWaking = this.feed.onChange((upTo) => this.wake(upTo));
  }

  /** The cursor of the last change handed to the listeners. */
  get position(): number {
    return this.cursor;
  }

  subscribe(listener: Listener, wants: Wants = EVERYTHING): () => void {
    this.listeners.set(listener, wants);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Reads what is new; `upTo` (when known) lets a wake-up for changes already read cost nothing. */
  wake(upTo?: number): void {
    if (this.closed || (upTo !== undefined && upTo <= this.cursor)) return;
    this.again = true;
    if (this.reading) return;
    this.reading = true;
    this.draining = this.drain();
  }

  /** Resolves when every change committed before the call has been handed out (tests, shutdown). */
  async caughtUp(): Promise<void> {
    const head = await this.feed.head();
    while (this.cursor < head && !this.closed) {
      this.wake(head);
      await (this.reading ? this.draining : new Promise((resolve) => setTimeout(resolve, 10)));
    }
  }

  /**
   * The events with a cursor in (after, upTo], in pages, oldest first, without handing them to the
   * listeners (a reconnecting client's replay); undefined when part of that range was purged.
   */
  async history(after: number, upTo: number): Promise<AsyncIterable<DomainEvent[]> | undefined> {
    if (after >= upTo) return (async function* () {})();
    if (!(await this.feed.keeps(after))) return undefined;
    const read = async function* (this: FeedReader): AsyncIterable<DomainEvent[]> {
      let cursor = after;
      while (cursor < upTo) {
        const rows = (await this.feed.read(cursor, this.batch)).filter((r) => r.cursor <= upTo);
        if (rows.length === 0) return;
        cursor = rows[rows.length - 1]!.cursor;
        yield (await this.load(rows)).map(({ event }) => event);
      }
    };
    return read.call(this);
  }

  /** Retention: deletes changes recorded before `cutoff` (ms); a replay from further back notifies everything. */
  purgeBefore(cutoff: number): Promise<number> {
    return this.feed.purgeBefore(cutoff);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopWaking?.();
    clearTimeout(this.retry);
    await this.draining;
    this.listeners.clear();
  }

  /**
   * Reads until no wake-up is pending. `again` is checked and `reading` cleared in one synchronous
   * step (the finally), so a wake-up that arrives at any moment is never lost.
   */
  private async drain(): Promise<void> {
    try {
      while (this.again && !this.closed) {
        this.again = false;
        for (;;) {
          const rows = await this.feed.read(this.cursor, this.batch);
          if (rows.length === 0 || this.closed) break;
          const wanted = rows.filter((row) => this.wanted(row));
          const events = wanted.length > 0 ? await this.load(wanted) : [];
          this.cursor = rows[rows.length - 1]!.cursor;
          for (const { event, change } of events) this.emit(event, change);
          if (rows.length < this.batch) break;
        }
      }
    } catch (error) {
      // The cursor did not move: the same changes are read again, once, by the retry.
      this.options.onError(error);
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.wake(), RETRY_MS);
      this.retry.unref();
    } finally {
      this.reading = false;
    }
  }

  /** Whether some listener wants the change (metrics hear of every change read). */
  private wanted(change: ChangeRow): boolean {
    this.options.onRead?.(change);
    for (const wants of this.listeners.values()) if (wants(change)) return true;
    return false;
  }

  /** The events of a page of changes, in cursor order; rows that reference deleted data drop out. */
  private async load(rows: readonly ChangeRow[]): Promise<Array<{ event: DomainEvent; change: ChangeRow }>> {
    const messageIds: number[] = [];
    const mailIds: number[] = [];
    for (const row of rows) {
      if (row.kind === 'message') messageIds.push(Number(row.ref));
      else if (row.kind === 'mail' || row.kind === 'receipt') mailIds.push(Number(row.ref));
    }
    const [messages, mail] = await Promise.all([
      messageIds.length > 0 ? this.loader.messages(messageIds) : [],
      mailIds.length > 0 ? this.loader.mail(mailIds) : [],
    ]);
    const messageById = new Map(messages.map((m) => [m.id, m]));
    const mailById = new Map(mail.map((m) => [m.id, m]));
    const events: Array<{ event: DomainEvent; change: ChangeRow }> = [];
    for (const change of rows) {
      const event = this.toEvent(change, messageById, mailById);
      if (event !== undefined) events.push({ event, change });
    }
    return events;
  }

  private toEvent(
    row: ChangeRow,
    messages: ReadonlyMap<number, MessageView>,
    mail: ReadonlyMap<number, MailView>,
  ): DomainEvent | undefined {
    const { cursor } = row;
    const agentId = row.agent_id ?? '';
    switch (row.kind) {
      case 'message': {
        const message = messages.get(Number(row.ref));
        return message && { cursor, type: 'message.created', message };
      }
      case 'mail':
      case 'receipt': {
        const found = mail.get(Number(row.ref));
        return found && { cursor, type: row.kind === 'mail' ? 'mail.sent' : 'mail.receipt', mail: found };
      }
      case 'session':
        return row.session_id === null
          ? undefined
          : {
              cursor,
              type: 'session.changed',
              sessionId: row.session_id,
              status: row.ref ?? '',
              actor: row.agent_id,
            };
      case 'memory':
        return { cursor, type: 'memory.changed', agentId, key: row.ref ?? '', sessionId: row.session_id };
      case 'presence':
        return { cursor, type: 'agent.presence', agentId, sessionId: row.session_id, status: row.ref ?? '' };
      case 'revocation':
        // No token id: the whole agent was revoked (every token issued before the cut-off).
        return { cursor, type: 'token.revoked', jti: row.ref ?? undefined, agentId };
      case 'agent_key':
        // An ended key (or, under REQUIRE_AGENT_KEYS, a first one) ends the agent's connections.
        return row.ref === 'ended' || this.options.issuedKeyEndsConnections
          ? { cursor, type: 'token.revoked', jti: undefined, agentId }
          : { cursor, type: 'agent_key.changed', agentId };
      default:
        return undefined;
    }
  }

  private emit(event: DomainEvent, change: ChangeRow): void {
    for (const [listener, wants] of this.listeners) {
      if (!wants(change)) continue;
      try {
        listener(event);
      } catch (error) {
        this.options.onError(error);
      }
    }
  }
}
