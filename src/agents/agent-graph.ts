import type { AgentService } from './agent.service.js';
import type { MailService } from './mail.service.js';

export interface AgentGraph {
  nodes: Array<{ agent_id: string; agent_type: string }>;
  /** Mail between two agents in one direction; `replies` of them answered an earlier mail. */
  edges: Array<{ from: string; to: string; mail: number; replies: number }>;
}

/**
 * Who talks to whom by mail. With a session: its registered agents and the mail each sent or got
 * (the other end joins the nodes even when registered elsewhere). A sender that never registered
 * (the dashboard's operator) is a node of type "unregistered".
 */
export async function agentGraph(
  agents: AgentService,
  mail: MailService,
  sessionId: string | undefined,
): Promise<AgentGraph> {
  const [all, edges] = await Promise.all([agents.list({}, Number.MAX_SAFE_INTEGER), mail.edges()]);
  const typeOf = new Map(all.agents.map((a) => [a.agent_id, a.agent_type]));
  const members =
    sessionId === undefined
      ? undefined
      : new Set(all.agents.filter((a) => a.session_id === sessionId).map((a) => a.agent_id));
  const kept = members === undefined ? edges : edges.filter((e) => members.has(e.from) || members.has(e.to));
  const ids = new Set(members ?? typeOf.keys());
  for (const e of kept) ids.add(e.from).add(e.to);
  return {
    nodes: [...ids].sort().map((id) => ({ agent_id: id, agent_type: typeOf.get(id) ?? 'unregistered' })),
    edges: kept,
  };
}
