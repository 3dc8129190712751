import type { Generated, Insertable, Selectable } from 'kysely';

/** Table types shared by every dialect. Times are UTC epoch milliseconds; JSON columns are text. */
export interface SessionTable {
  session_id: string;
  purpose: string;
  status: string;
  created_by: string;
  created_at: number;
  updated_at: number;
  metadata: string;
}

export interface MessageTable {
  id: Generated<number>;
  session_id: string;
  sender: string;
  sender_type: string;
  content: string;
  visibility: string;
  message_type: string;
  metadata: string;
  parent_message_id: number | null;
  created_at: number;
}

export interface MemoryTable {
  agent_id: string;
  /** '' for global entries, the session id for session-scoped ones (keeps the primary key non-null). */
  scope_key: string;
  key: string;
  value: string;
  version: number;
  metadata: string;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
}

export interface RevokedTokenTable {
  jti: string;
  agent_id: string;
  revoked_at: number;
  expires_at: number;
}

/** A key bound to one agent id and type; only its sha256 is stored. */
export interface AgentKeyTable {
  key_id: string;
  agent_id: string;
  agent_type: string;
  key_hash: string;
  created_at: number;
  /** Who issued it: the admin agent id, or "cli". */
  created_by: string;
  revoked_at: number | null;
  revoked_by: string | null;
  /** Set on issue and on revoke: other processes on the same database poll for rows changed since. */
  updated_at: number;
}

export interface AuditTable {
  id: Generated<number>;
  created_at: number;
  agent_id: string;
  action: string;
  session_id: string | null;
  resource: string | null;
  details: string;
}

export interface AgentTable {
  agent_id: string;
  agent_type: string;
  name: string | null;
  capabilities: string;
  session_id: string | null;
  /** What the agent last said of itself (heartbeat status); presence is derived from times. */
  status_hint: string | null;
  registered_at: number;
  last_heartbeat: number | null;
  last_activity: number;
}

/** A server process sharing the database; `seen_at` is refreshed while it lives. */
export interface NodeTable {
  node_id: string;
  started_at: number;
  seen_at: number;
}

/** An agent's open WebSockets on one server process (presence shared by every node). */
export interface AgentConnectionTable {
  node_id: string;
  agent_id: string;
  since: number;
}

/** A 2025-era MCP session's state, for another node to take it over. */
export interface McpSessionTable {
  session_id: string;
  /** The agent it is bound to (null until a request authenticates on it). */
  agent_id: string | null;
  /** The initialize request's params, as JSON. */
  initialize: string;
  /** The resource URIs it subscribed to, as a JSON array. */
  subscriptions: string;
  created_at: number;
  seen_at: number;
}

/** Every token of the agent issued before `revoked_before` (ms) is revoked. */
export interface AgentRevocationTable {
  agent_id: string;
  revoked_before: number;
  revoked_by: string;
}

export interface MailTable {
  id: Generated<number>;
  from_agent: string;
  to_agent: string;
  type: string;
  content: string;
  metadata: string;
  reply_to: number | null;
  created_at: number;
  delivered_at: number | null;
  read_at: number | null;
}

/** One committed change (docs/change-feed.md): routing keys and a reference, never the content. */
export interface ChangeTable {
  cursor: Generated<number>;
  kind: string;
  session_id: string | null;
  agent_id: string | null;
  ref: string | null;
  created_at: number;
}

/** How many messages a session has of one visibility, sender and sender_type (migration 0010). */
export interface MessageCountTable {
  session_id: string;
  visibility: string;
  sender: string;
  sender_type: string;
  n: number;
}

/** SQLite: the small integer that keys a session's range of the search index (migration 0009). */
export interface SessionSearchKeyTable {
  key: Generated<number>;
  session_id: string;
}

/** SQLite: every distinct word of a session's messages, once (migration 0011): what typos are corrected against. */
export interface SessionSearchWordTable {
  id: Generated<number>;
  key: number;
  word: string;
}

export interface Database {
  sessions: SessionTable;
  messages: MessageTable;
  agent_memory: MemoryTable;
  revoked_tokens: RevokedTokenTable;
  agent_keys: AgentKeyTable;
  audit_log: AuditTable;
  agents: AgentTable;
  nodes: NodeTable;
  agent_connections: AgentConnectionTable;
  mcp_sessions: McpSessionTable;
  agent_revocations: AgentRevocationTable;
  mail: MailTable;
  changes: ChangeTable;
  session_search_keys: SessionSearchKeyTable;
  session_search_words: SessionSearchWordTable;
  message_counts: MessageCountTable;
}

export type SessionRow = Selectable<SessionTable>;
export type MessageRow = Selectable<MessageTable>;
export type NewMessageRow = Insertable<MessageTable>;
export type MemoryRow = Selectable<MemoryTable>;
export type AuditRow = Selectable<AuditTable>;
export type AgentKeyRow = Selectable<AgentKeyTable>;
export type AgentRow = Selectable<AgentTable>;
export type MailRow = Selectable<MailTable>;
export type McpSessionRow = Selectable<McpSessionTable>;
