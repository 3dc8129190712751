import { toJsonText, fromJsonText } from '../core/json.js';
import { DEFAULT_MAX_REPLY_BYTES, type PageInfo, jsonBytes, pageInfo, takePage } from '../core/paging.js';
import { nowMs, toIso, toIsoOrNull } from '../core/time.js';
import { auditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { requireSession } from '../sessions/session.service.js';
import type { AgentRow } from '../store/schema.js';
import type { Db, Storage } from '../store/store.js';
import { recordChange } from '../store/change-feed.js';
import { findAgent, listAgents, recordHeartbeat, touchAgents, upsertAgent } from './agent.repository.js';

export const AGENT_STATUSES = ['active', 'idle', 'offline'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** Seen within a minute: active; within five: idle; else offline. An open WebSocket counts as seen now. */
export const ACTIVE_WINDOW_MS = 60_000;
export const IDLE_WINDOW_MS = 5 * 60_000;
const FLUSH_MS = 5_000;

export interface AgentView {
  agent_id: string;
  agent_type: string;
  name: string | null;
  session_id: string | null;
  status: AgentStatus;
  capabilities: string[];
  last_heartbeat: string | null;
  last_seen: string;
  connected: boolean;
}

/**
 * The registry and presence. Activity from tool calls is kept in memory and flushed every few
 * seconds (a write per call would halve write throughput); heartbeats are written at once.
 */
export class AgentService {
  private readonly seen = new Map<string, number>();
  private readonly connections = new Map<string, number>();
  private readonly flusher: NodeJS.Timeout;

  constructor(
    private readonly store: Storage,
    /** A failed presence record (a WebSocket connect or disconnect) is reported here. */
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    this.flusher = setInterval(() => void this.flush().catch(() => undefined), FLUSH_MS);
    this.flusher.unref();
  }

  /** Notes that an agent did something (any authenticated call). */
  touch(agentId: string): void {
    this.seen.set(agentId, nowMs());
  }

  /** WebSocket connect/disconnect: a connected agent is active. */
  connected(agentId: string, delta: 1 | -1): void {
    const n = (this.connections.get(agentId) ?? 0) + delta;
    if (n > 0) this.connections.set(agentId, n);
    else this.connections.delete(agentId);
    this.touch(agentId);
    this.store
      .write((trx) => recordChange(trx, 'presence', null, agentId, n > 0 ? 'active' : 'idle'))
      .catch(this.onError);
  }

  async flush(): Promise<void> {
    if (this.seen.size === 0) return;
    const batch = new Map(this.seen);
    this.seen.clear();
    await this.store.write((trx) => touchAgents(trx, batch));
  }

  stop(): void {
    clearInterval(this.flusher);
  }

  private view(row: AgentRow, now = nowMs()): AgentView {
    const connected = this.connections.has(row.agent_id);
    const lastSeen = Math.max(
      Number(row.last_activity),
      Number(row.last_heartbeat ?? 0),
      this.seen.get(row.agent_id) ?? 0,
    );
    const age = now - lastSeen;
    let status: AgentStatus = age < ACTIVE_WINDOW_MS ? 'active' : age < IDLE_WINDOW_MS ? 'idle' : 'offline';
    if (status === 'active' && row.status_hint === 'idle') status = 'idle';
    if (connected) status = row.status_hint === 'idle' ? 'idle' : 'active';
    return {
      agent_id: row.agent_id,
      agent_type: row.agent_type,
      name: row.name,
      session_id: row.session_id,
      status,
      capabilities: fromJsonText<string[]>(row.capabilities) ?? [],
      last_heartbeat: toIsoOrNull(row.last_heartbeat === null ? null : Number(row.last_heartbeat)),
      last_seen: toIso(connected ? now : lastSeen),
      connected,
    };
  }

  async register(
    caller: Principal,
    input: { name?: string | undefined; capabilities?: string[] | undefined; sessionId?: string | undefined },
  ): Promise<{ agent: AgentView; peers: AgentView[] }> {
    if (input.sessionId !== undefined) await requireSession(this.store.db, input.sessionId);
    const now = nowMs();
    const row = await this.store.write(async (trx) => {
      const saved = await upsertAgent(trx, {
        agent_id: caller.agentId,
        agent_type: caller.agentType,
        name: input.name ?? null,
        capabilities: toJsonText(input.capabilities ?? []),
        session_id: input.sessionId ?? null,
        status_hint: null,
        registered_at: now,
        last_heartbeat: now,
        last_activity: now,
      });
      await auditService.record(trx, {
        agentId: caller.agentId,
        action: 'register_agent',
        sessionId: input.sessionId,
        details: { name: input.name, capabilities: input.capabilities ?? [] },
      });
      return saved;
    });
    const peers = (await listAgents(this.store.db, input.sessionId, 1000))
      .filter((r) => r.agent_id !== caller.agentId)
      .map((r) => this.view(r, now));
    return { agent: this.view(row, now), peers };
  }

  async heartbeat(caller: Principal, status: 'active' | 'idle' | undefined): Promise<AgentView> {
    const now = nowMs();
    const row = await this.store.write(async (trx) => {
      const saved =
        (await recordHeartbeat(trx, caller.agentId, now, status ?? null)) ??
        (await this.registerBare(trx, caller, now, status));
      return saved;
    });
    return this.view(row, now);
  }

  /** A heartbeat from an agent that never registered registers it, without a session. */
  private registerBare(
    trx: Db,
    caller: Principal,
    now: number,
    status: 'active' | 'idle' | undefined,
  ): Promise<AgentRow> {
    return upsertAgent(trx, {
      agent_id: caller.agentId,
      agent_type: caller.agentType,
      name: null,
      capabilities: toJsonText([]),
      session_id: null,
      status_hint: status ?? null,
      registered_at: now,
      last_heartbeat: now,
      last_activity: now,
    });
  }

  /**
   * Agents in id order, within `maxBytes` (at least one); `cursor` is the `next_cursor` (an agent id)
   * of the previous page. `total` counts every agent matching the filter.
   */
  async list(
    filter: {
      sessionId?: string | undefined;
      status?: AgentStatus | undefined;
      cursor?: string | undefined;
    },
    maxBytes = DEFAULT_MAX_REPLY_BYTES,
  ): Promise<{ agents: AgentView[]; total: number } & PageInfo<string>> {
    const now = nowMs();
    const views = (await listAgents(this.store.db, filter.sessionId, 10_000)).map((r) => this.view(r, now));
    const matching = filter.status === undefined ? views : views.filter((v) => v.status === filter.status);
    // Agent ids are ASCII, so JavaScript's order is SQLite's (the rows come sorted by agent_id).
    const after = filter.cursor;
    const rest = after === undefined ? matching : matching.filter((v) => v.agent_id > after);
    const page = takePage(rest, rest.length, maxBytes, jsonBytes);
    return { agents: page.items, total: matching.length, ...pageInfo(page, (v) => v.agent_id) };
  }

  /** Registered agents that an "ALL" broadcast from this agent reaches. */
  async broadcastAudience(senderId: string): Promise<string[]> {
    const sender = await findAgent(this.store.db, senderId);
    const rows = await listAgents(this.store.db, sender?.session_id ?? undefined, 100_000);
    return rows.map((r) => r.agent_id).filter((id) => id !== senderId);
  }
}
