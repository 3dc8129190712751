/** The shapes of docs/dashboard.md's contract, as the page reads them. */

export interface SessionRow {
  session_id: string;
  purpose: string;
  status: string;
  created_by: string;
  created_at: string;
  updated_at: string;
  message_count: number;
  agent_count: number;
  last_activity: string | null;
}

export interface Message {
  id: number;
  session_id: string;
  sender: string;
  sender_type: string;
  content: string;
  visibility: string;
  message_type: string;
  metadata: Record<string, unknown> | null;
  parent_message_id: number | null;
  timestamp: string;
}

export interface MessagePage {
  messages: Message[];
  has_more: boolean;
  next_cursor?: string | number | null;
}

export interface SearchResult {
  message: Message;
  score: number;
  match_preview: string;
  relevance: string;
}

export interface Agent {
  agent_id: string;
  agent_type: string;
  name: string | null;
  session_id: string | null;
  status: string;
  capabilities: string[];
  last_heartbeat: string | null;
  last_seen: string;
  connected: boolean;
  /** Mail this agent sent and received (the dashboard's addition to list_agents). */
  mail?: { sent: number; received: number };
}

/** Frames from /ui/live. */
export type LiveFrame =
  | { type: 'hello'; cursor?: unknown }
  | { type: 'message'; message: Message }
  | { type: 'session'; session_id: string; status: string }
  | { type: 'presence'; agent_id: string; session_id: string | null; status: string }
  | { type: 'mail'; id: number; from: string; to: string; reply_to: number | null }
  | ({ type: 'metrics' } & MetricsSnapshot);

export interface MetricsSnapshot {
  tools?: Record<
    string,
    { calls: number; errors: number; p50_ms?: number; p90_ms?: number; p99_ms?: number }
  >;
  /** Open connections by kind; live frames add `dashboards`. */
  connections?: Record<string, number>;
  /** Live frames only: the highest per-tool p99 (null before any call) and its tool. */
  latency?: { p99_ms: number | null; tool: string | null };
  database?: { queries: number; mean_ms: number };
  process?: { rss_mb: number; uptime_s: number };
}
