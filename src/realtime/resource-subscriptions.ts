import { AppError } from '../core/errors.js';
import { SESSION_ID_PATTERN } from '../core/ids.js';
import type { Principal } from '../auth/principal.js';
import type { ChangeSummary, DomainEvent, FeedEvents } from '../events/events.js';
import { canSee } from '../messages/visibility.js';

/**
 * Tells one connection that `uri` changed. `eventId` orders notifications on the connection: the
 * change's feed cursor, with `.k` added for the k-th further URI of the same connection that one
 * change touches ("41", "41.1"). A client that reconnects with the last one it saw resumes there.
 */
type Notify = (uri: string, eventId: string) => void;

interface Subscription {
  readonly uri: string;
  readonly principal: Principal;
  readonly notify: Notify;
}

/** What replay needs of the feed: its position, and the events of a range of cursors. */
export interface FeedHistory {
  /** Every event up to this cursor has been handed to listeners. */
  readonly position: number;
  /** Resolves when every change committed before the call has been handed to listeners. */
  caughtUp(): Promise<void>;
  /** The events with a cursor in (after, upTo], in pages, oldest first; undefined when (after, …] was purged. */
  history(after: number, upTo: number): Promise<AsyncIterable<DomainEvent[]> | undefined>;
}

/** A connection's event id: a feed cursor and the index among the URIs one change touched on it. */
export interface EventPosition {
  cursor: number;
  index: number;
}

export const eventIdOf = (cursor: number, index: number): string =>
  index === 0 ? String(cursor) : `${cursor}.${index}`;

/** Parses an id made by eventIdOf; undefined for anything else (e.g. the SDK's POST stream ids). */
export function parseEventPosition(value: string | undefined): EventPosition | undefined {
  const m = value === undefined ? null : /^(\d{1,15})(?:\.(\d{1,6}))?$/.exec(value);
  return m ? { cursor: Number(m[1]), index: Number(m[2] ?? 0) } : undefined;
}

/** Replay over more events than this notifies every subscribed URI once instead of going on. */
export const MAX_REPLAY_CHANGES = 10_000;

/** What a resource URI watches: the session's blackboard, or an agent's memory or inbox. */
export function watchKeyOf(uri: string, caller: Principal): string {
  const session = /^session:\/\/([^/]+)(?:\/messages\/(\d+))?$/.exec(uri);
  if (session) {
    const id = session[1] ?? '';
    if (!SESSION_ID_PATTERN.test(id)) throw new AppError('INVALID_INPUT', `"${id}" is not a session id.`);
    return `session:${id}`;
  }
  const agent = /^agent:\/\/([^/]+)\/(memory|inbox)$/.exec(uri);
  if (agent) {
    const agentId = decodeURIComponent(agent[1] ?? '');
    if (agentId !== caller.agentId) {
      throw new AppError(
        'PERMISSION_DENIED',
        `${uri} belongs to another agent; subscribe to agent://${caller.agentId}/${agent[2]}.`,
      );
    }
    return `${agent[2]}:${agentId}`;
  }
  throw new AppError(
    'INVALID_INPUT',
    `Cannot subscribe to "${uri}": use session://{id}, session://{id}/messages/{limit}, agent://{you}/memory or agent://{you}/inbox.`,
  );
}

/** The watch key an event touches, and who among that key's subscribers may learn of it. */
function routeOf(event: DomainEvent): { key: string; allowed: (p: Principal) => boolean } | undefined {
  switch (event.type) {
    case 'message.created':
      return { key: `session:${event.message.session_id}`, allowed: (p) => canSee(p, event.message) };
    case 'session.changed':
      return { key: `session:${event.sessionId}`, allowed: () => true };
    case 'memory.changed':
      return { key: `memory:${event.agentId}`, allowed: (p) => p.agentId === event.agentId };
    case 'mail.sent':
    case 'mail.receipt':
      return { key: `inbox:${event.mail.to}`, allowed: (p) => p.agentId === event.mail.to };
    default:
      return undefined;
  }
}

/**
 * Resource subscriptions, for every MCP connection of this process: after a change, each
 * subscriber allowed to see it is notified with the URI it subscribed to — and nobody else (a
 * private message notifies only those who can read it). A connection that lost its stream gets
 * what it missed from the feed itself (`replay`), so nothing is held per connection.
 */
export class ResourceSubscriptions {
  /** watch key → owner (one connection) → its subscriptions under that key, in subscription order. */
  private readonly byKey = new Map<string, Map<string, Subscription[]>>();
  private readonly unsubscribeFeed: () => void;

  constructor(
    feed: FeedEvents,
    private readonly history: FeedHistory,
  ) {
    this.unsubscribeFeed = feed.subscribe(
      (event) => this.dispatch(event),
      (change) => this.wants(change),
    );
  }

  /** Throws AppError for a URI the caller may not watch. Subscribing twice to a URI changes nothing. */
  subscribe(owner: string, principal: Principal, uri: string, notify: Notify): void {
    const key = watchKeyOf(uri, principal);
    let owners = this.byKey.get(key);
    if (!owners) this.byKey.set(key, (owners = new Map()));
    const subs = owners.get(owner) ?? [];
    owners.set(owner, [...subs.filter((s) => s.uri !== uri), { uri, principal, notify }]);
  }

  unsubscribe(owner: string, uri: string): void {
    this.dropWhere((o, sub) => o === owner && sub.uri === uri);
  }

  /** The URIs a connection is subscribed to. */
  urisOf(owner: string): string[] {
    const uris: string[] = [];
    for (const owners of this.byKey.values()) for (const sub of owners.get(owner) ?? []) uris.push(sub.uri);
    return uris;
  }

  /** Drops every subscription of a closed connection. */
  dropOwner(owner: string): void {
    this.dropWhere((o) => o === owner);
  }

  /**
   * What a connection missed after `from`: one notification per URI that changed in (from, head],
   * at the event id of its last change, oldest first. Live notifications after the returned head
   * reach the connection as usual (ids above it), so a resumed stream gets each change once.
   */
  async replay(
    owner: string,
    from: EventPosition,
  ): Promise<{ head: number; missed: { uri: string; eventId: string }[] }> {
    // Changes committed before the reconnect may still be on their way to this process (another
    // node wrote them): hand them out first, so they are replayed here rather than notified twice.
    await this.history.caughtUp();
    const head = this.history.position;
    const latest = new Map<string, EventPosition>();
    const pages = await this.history.history(from.cursor - 1, head);
    let read = 0;
    let tooMany = false;
    if (pages !== undefined) {
      for await (const events of pages) {
        read += events.length;
        if (read > MAX_REPLAY_CHANGES) {
          tooMany = true;
          break;
        }
        for (const event of events) {
          const route = routeOf(event);
          const subs = route && this.byKey.get(route.key)?.get(owner);
          if (!subs) continue;
          subs.forEach((sub, index) => {
            const at = { cursor: event.cursor, index };
            if (after(at, from) && route.allowed(sub.principal)) latest.set(sub.uri, at);
          });
        }
      }
    }
    if (pages === undefined || tooMany) {
      // Too far back (or purged): everything this connection watches may have changed.
      let index = 0;
      for (const owners of this.byKey.values()) {
        for (const sub of owners.get(owner) ?? []) latest.set(sub.uri, { cursor: head, index: index++ });
      }
    }
    const missed = [...latest]
      .sort(([, a], [, b]) => a.cursor - b.cursor || a.index - b.index)
      .map(([uri, at]) => ({ uri, eventId: eventIdOf(at.cursor, at.index) }));
    return { head, missed };
  }

  /** Whether some subscription here watches what the change touched (or may end because of it). */
  private wants(change: ChangeSummary): boolean {
    if (this.byKey.size === 0) return false;
    switch (change.kind) {
      case 'message':
      case 'session':
        return this.byKey.has(`session:${change.session_id}`);
      case 'memory':
        return this.byKey.has(`memory:${change.agent_id}`);
      case 'mail':
        return this.byKey.has(`inbox:${change.agent_id}`);
      case 'receipt':
        // The receipt's agent is the sender; the inbox that changed is the recipient's.
        for (const key of this.byKey.keys()) if (key.startsWith('inbox:')) return true;
        return false;
      case 'revocation':
      case 'agent_key':
        return true;
      default:
        return false;
    }
  }

  private dropWhere(predicate: (owner: string, sub: Subscription) => boolean): void {
    for (const [key, owners] of this.byKey) {
      for (const [owner, subs] of owners) {
        const kept = subs.filter((sub) => !predicate(owner, sub));
        if (kept.length === 0) owners.delete(owner);
        else if (kept.length !== subs.length) owners.set(owner, kept);
      }
      if (owners.size === 0) this.byKey.delete(key);
    }
  }

  private dispatch(event: DomainEvent): void {
    if (event.type === 'token.revoked') {
      const { jti, agentId } = event;
      return this.dropWhere((_, sub) =>
        jti === undefined ? sub.principal.agentId === agentId : sub.principal.tokenId === jti,
      );
    }
    const route = routeOf(event);
    if (!route) return;
    const owners = this.byKey.get(route.key);
    if (!owners) return;
    const now = Date.now() / 1000;
    const id = String(event.cursor);
    for (const [owner, subs] of owners) {
      let index = 0;
      for (const sub of subs) {
        // A subscription lives no longer than the token it was made with.
        if (sub.principal.expiresAt !== undefined && sub.principal.expiresAt <= now) {
          this.dropWhere((o, s) => o === owner && s === sub);
        } else if (route.allowed(sub.principal)) {
          sub.notify(sub.uri, index === 0 ? id : eventIdOf(event.cursor, index));
          index++;
        }
      }
    }
  }

  close(): void {
    this.unsubscribeFeed();
    this.byKey.clear();
  }
}

/** Whether `at` comes after `from` on a connection. */
const after = (at: EventPosition, from: EventPosition): boolean =>
  at.cursor > from.cursor || (at.cursor === from.cursor && at.index > from.index);
