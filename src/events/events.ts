import type { MessageView } from '../messages/message.view.js';

/** A mail as SPEC §5 shapes it (defined here so events and the agents feature share it). */
export interface MailView {
  id: number;
  from: string;
  to: string;
  type: string;
  content: unknown;
  metadata: Record<string, unknown> | null;
  reply_to: number | null;
  created_at: string;
  delivered_at: string | null;
  read_at: string | null;
}

/**
 * One committed change as the feed reader (src/realtime/feed-reader.ts) hands it to real-time
 * consumers, with its feed cursor. Writers never build these: they record a change row in their
 * transaction (src/store/change-feed.ts) and the reader turns committed rows into events.
 */
export type DomainEvent = { cursor: number } & (
  | { type: 'message.created'; message: MessageView }
  | { type: 'session.changed'; sessionId: string; status: string; actor: string | null }
  | { type: 'memory.changed'; agentId: string; key: string; sessionId: string | null }
  | { type: 'mail.sent'; mail: MailView }
  | { type: 'mail.receipt'; mail: MailView }
  | { type: 'agent.presence'; agentId: string; sessionId: string | null; status: string }
  /** One token ended (jti), or every credential of the agent (jti undefined: its agent key ended). */
  | { type: 'token.revoked'; jti: string | undefined; agentId: string }
  /** An agent got a key that ends nothing (token.revoked with no jti says a key ended). */
  | { type: 'agent_key.changed'; agentId: string }
);

export type DomainEventType = DomainEvent['type'];

/** What a committed change looks like before its rows are loaded (see src/store/change-feed.ts). */
export interface ChangeSummary {
  readonly kind: string;
  readonly session_id: string | null;
  readonly agent_id: string | null;
}

/** Where real-time consumers listen; the feed reader is the one source. */
export interface FeedEvents {
  /**
   * `wants` says, from the change alone, whether the listener could act on it (someone in this
   * process follows that session or agent): a change nobody wants is never loaded. Without it the
   * listener gets every event. Returns an idempotent unsubscribe.
   */
  subscribe(listener: (event: DomainEvent) => void, wants?: (change: ChangeSummary) => boolean): () => void;
}
