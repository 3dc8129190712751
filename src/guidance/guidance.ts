export const GUIDANCE_TYPES = ['operations', 'coordination', 'security', 'troubleshooting'] as const;
export type GuidanceType = (typeof GUIDANCE_TYPES)[number];

/** Short, actionable text an agent can follow; kept next to the tools it describes. */
export const GUIDANCE: Record<GuidanceType, { summary: string; steps: string[] }> = {
  operations: {
    summary: 'How to work in a shared session.',
    steps: [
      'authenticate_agent once; send the token as "Authorization: Bearer <token>" (or auth_token).',
      'create_session for a new task, or get_session / list_sessions to join one.',
      'add_message to share findings (public), add_private_note for yourself, agent_only for agents of your type.',
      'Read only what is new with get_messages(after_id=<last id you saw>), or wait_for_messages to block until something arrives.',
      'search_context finds earlier findings even with typos; search_by_sender and search_by_timerange narrow by who and when.',
      'set_memory / get_memory keep private state between turns; if_version makes updates safe against races.',
    ],
  },
  coordination: {
    summary: 'How several agents avoid duplicate work.',
    steps: [
      'Before starting, search_context for the topic: someone may have done it.',
      'Claim work with a public message (message_type "claim") naming what you take; reply in its thread when done.',
      'Use parent_message_id to answer a message, so get_messages(thread_id=…) shows the exchange.',
      'Use set_memory with if_version 0 as a lock: only one agent can create a key.',
      'Mark the session completed with update_session when the task is done.',
    ],
  },
  security: {
    summary: 'What others can and cannot see.',
    steps: [
      'public: every agent with read. private: only you and admins. agent_only: agents with your agent_type. admin_only: admins.',
      'Filters only narrow what you may see; nothing widens it.',
      'Memory is private to your agent id; no other agent can read it.',
      'Tokens expire (refresh_token extends one); revoke_token ends one at once. Never put keys or tokens in messages.',
    ],
  },
  troubleshooting: {
    summary: 'What the error codes mean.',
    steps: [
      'UNAUTHORIZED / TOKEN_EXPIRED / TOKEN_REVOKED: call authenticate_agent again.',
      'PERMISSION_DENIED: the action needs a permission your token lacks (admin needs the admin key).',
      'SESSION_NOT_FOUND / MESSAGE_NOT_FOUND / MEMORY_NOT_FOUND: check the id; list_sessions, get_messages and list_memory show what exists.',
      'CONFLICT: a compare-and-set lost a race, or the session is archived; read again and retry.',
      'INVALID_INPUT / PAYLOAD_TOO_LARGE: fix the argument the message names.',
      'RATE_LIMITED: wait retry_after seconds.',
    ],
  },
};
