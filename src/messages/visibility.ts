import { type Expression, type SqlBool, expressionBuilder } from 'kysely';
import type { Database } from '../store/schema.js';

export const VISIBILITIES = ['public', 'private', 'agent_only', 'admin_only'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** Who is reading. Every read of messages takes one; there is no query without it. */
export interface Viewer {
  readonly agentId: string;
  readonly agentType: string;
  readonly isAdmin: boolean;
}

/**
 * THE visibility rule (SPEC §4), as a SQL condition on `messages`. Every read path — lists, gets,
 * searches, resources, pushes — adds it to its WHERE clause; filters given by a caller are ANDed
 * on top of it, so they can only narrow what it allows.
 *
 * public: everyone with read · private: the sender · agent_only: the sender's agent_type ·
 * admin_only: admins. Admins see everything.
 */
export function visibleTo(viewer: Viewer): Expression<SqlBool> {
  const eb = expressionBuilder<Database, 'messages'>();
  if (viewer.isAdmin) return eb.lit(true);
  return eb.or([
    eb('messages.visibility', '=', 'public'),
    eb.and([eb('messages.visibility', '=', 'private'), eb('messages.sender', '=', viewer.agentId)]),
    eb.and([eb('messages.visibility', '=', 'agent_only'), eb('messages.sender_type', '=', viewer.agentType)]),
  ]);
}

/** The same rule for a message already in hand (used to filter pushes of a just-written message). */
export function canSee(
  viewer: Viewer,
  message: { visibility: string; sender: string; sender_type: string },
): boolean {
  if (viewer.isAdmin) return true;
  switch (message.visibility) {
    case 'public':
      return true;
    case 'private':
      return message.sender === viewer.agentId;
    case 'agent_only':
      return message.sender_type === viewer.agentType;
    default:
      return false;
  }
}
