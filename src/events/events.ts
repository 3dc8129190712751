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

/** One typed event per committed write. Transports subscribe; the core only publishes. */
export type DomainEvent =
  | { type: 'message.created'; message: MessageView }
  | { type: 'session.created' | 'session.updated'; sessionId: string; status: string; actor: string }
  | {
      type: 'memory.changed';
      agentId: string;
      key: string;
      sessionId: string | null;
      version: number | null;
      deleted: boolean;
    }
  | { type: 'mail.sent'; mail: MailView }
  | { type: 'mail.receipt'; mail: MailView }
  | { type: 'agent.presence'; agentId: string; sessionId: string | null; status: string }
  /** One token ended (jti), or every credential of the agent (jti undefined: its agent key was revoked). */
  | { type: 'token.revoked'; jti: string | undefined; agentId: string };

export type DomainEventType = DomainEvent['type'];
