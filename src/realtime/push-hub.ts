import type { Principal } from '../auth/principal.js';
import type { ChangeSummary, FeedEvents, MailView } from '../events/events.js';
import type { MessageView } from '../messages/message.view.js';
import { canSee } from '../messages/visibility.js';

/** A connection that pushes to one agent (a WebSocket): what the hub calls, already filtered. */
export interface PushTarget {
  readonly principal: Principal;
  /** Mail addressed to the target's agent. */
  onMail(mail: MailView): void;
  /** A receipt (delivered, read) for mail the target's agent sent. */
  onReceipt(mail: MailView): void;
  /** A message of a session the target follows, which it may see; `frame` is shared between targets. */
  onSessionMessage(message: MessageView, frame: string): void;
  /** The target's token was revoked, or its agent's key ended. */
  onRevoked(): void;
}

/**
 * Push routing for every WebSocket of the process: mail and receipts go to the sockets of the
 * agent concerned, session messages to the sockets following the session that may see them (the
 * one visibility rule), revocations end the sockets of that token or agent. A session message is
 * turned into its frame once (`toFrame`) and the same string goes to every socket.
 */
export class PushHub {
  private readonly byAgent = new Map<string, Set<PushTarget>>();
  private readonly bySession = new Map<string, Set<PushTarget>>();
  private readonly unsubscribeFeed: () => void;

  constructor(
    feed: FeedEvents,
    private readonly toFrame: (message: MessageView) => string,
  ) {
    this.unsubscribeFeed = feed.subscribe(
      (event) => {
        switch (event.type) {
          case 'mail.sent':
            for (const t of this.byAgent.get(event.mail.to) ?? []) t.onMail(event.mail);
            break;
          case 'mail.receipt':
            for (const t of this.byAgent.get(event.mail.from) ?? []) t.onReceipt(event.mail);
            break;
          case 'token.revoked':
            for (const t of this.byAgent.get(event.agentId) ?? []) {
              if (event.jti === undefined || t.principal.tokenId === event.jti) t.onRevoked();
            }
            break;
          case 'message.created':
            this.dispatchMessage(event.message);
            break;
        }
      },
      (change) => this.wants(change),
    );
  }

  /** Mail, receipts and revocations of the target's agent reach it until `remove`. */
  add(target: PushTarget): void {
    join(this.byAgent, target.principal.agentId, target);
  }

  /** Stops every push to the target. */
  remove(target: PushTarget, followed: Iterable<string>): void {
    leave(this.byAgent, target.principal.agentId, target);
    for (const sessionId of followed) leave(this.bySession, sessionId, target);
  }

  follow(sessionId: string, target: PushTarget): void {
    join(this.bySession, sessionId, target);
  }

  unfollow(sessionId: string, target: PushTarget): void {
    leave(this.bySession, sessionId, target);
  }

  close(): void {
    this.unsubscribeFeed();
    this.byAgent.clear();
    this.bySession.clear();
  }

  /** Whether a socket here follows the change's session, or belongs to its agent. */
  private wants(change: ChangeSummary): boolean {
    switch (change.kind) {
      case 'message':
        return this.bySession.has(change.session_id ?? '');
      case 'mail':
      case 'receipt':
      case 'revocation':
      case 'agent_key':
        return this.byAgent.has(change.agent_id ?? '');
      default:
        return false;
    }
  }

  private dispatchMessage(message: MessageView): void {
    const targets = this.bySession.get(message.session_id);
    if (!targets) return;
    let frame: string | undefined;
    for (const t of targets) {
      if (!canSee(t.principal, message)) continue;
      frame ??= this.toFrame(message);
      t.onSessionMessage(message, frame);
    }
  }
}

function join<K>(map: Map<K, Set<PushTarget>>, key: K, target: PushTarget): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(target);
}

function leave<K>(map: Map<K, Set<PushTarget>>, key: K, target: PushTarget): void {
  const set = map.get(key);
  set?.delete(target);
  if (set?.size === 0) map.delete(key);
}
