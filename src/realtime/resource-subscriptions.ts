import { AppError } from '../core/errors.js';
import { SESSION_ID_PATTERN } from '../core/ids.js';
import type { Principal } from '../auth/principal.js';
import type { DomainEvent, FeedEvents } from '../events/events.js';
import { canSee } from '../messages/visibility.js';

type Notify = (uri: string) => void;

interface Subscription {
  readonly owner: string;
  readonly uri: string;
  readonly principal: Principal;
  readonly notify: Notify;
}

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
 * private message notifies only those who can read it).
 */
export class ResourceSubscriptions {
  private readonly byKey = new Map<string, Map<string, Subscription>>();
  private readonly unsubscribeFeed: () => void;

  constructor(feed: FeedEvents) {
    this.unsubscribeFeed = feed.subscribe((event) => this.dispatch(event));
  }

  /** Throws AppError for a URI the caller may not watch. */
  subscribe(owner: string, principal: Principal, uri: string, notify: Notify): void {
    const key = watchKeyOf(uri, principal);
    let subs = this.byKey.get(key);
    if (!subs) this.byKey.set(key, (subs = new Map()));
    subs.set(`${owner}\n${uri}`, { owner, uri, principal, notify });
  }

  unsubscribe(owner: string, uri: string): void {
    for (const [key, subs] of this.byKey) {
      subs.delete(`${owner}\n${uri}`);
      if (subs.size === 0) this.byKey.delete(key);
    }
  }

  /** Drops every subscription of a closed connection. */
  dropOwner(owner: string): void {
    this.dropWhere((sub) => sub.owner === owner);
  }

  private dropWhere(predicate: (sub: Subscription) => boolean): void {
    for (const [key, subs] of this.byKey) {
      for (const [id, sub] of subs) if (predicate(sub)) subs.delete(id);
      if (subs.size === 0) this.byKey.delete(key);
    }
  }

  private dispatch(event: DomainEvent): void {
    if (event.type === 'token.revoked') {
      const { jti, agentId } = event;
      return this.dropWhere((sub) =>
        jti === undefined ? sub.principal.agentId === agentId : sub.principal.tokenId === jti,
      );
    }
    const route = routeOf(event);
    if (!route) return;
    const subs = this.byKey.get(route.key);
    if (!subs) return;
    const now = Date.now() / 1000;
    for (const [id, sub] of subs) {
      // A subscription lives no longer than the token it was made with.
      if (sub.principal.expiresAt !== undefined && sub.principal.expiresAt <= now) subs.delete(id);
      else if (route.allowed(sub.principal)) sub.notify(sub.uri);
    }
  }

  close(): void {
    this.unsubscribeFeed();
    this.byKey.clear();
  }
}
