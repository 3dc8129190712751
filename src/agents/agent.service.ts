import { toJsonText, fromJsonText } from '../core/json.js';
import { DEFAULT_MAX_REPLY_BYTES, type PageInfo, jsonBytes, pageInfo, takePage } from '../core/paging.js';
import { nowMs, toIso, toIsoOrNull } from '../core/time.js';
import { auditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { requireSession } from '../sessions/session.service.js';
import type { AgentRow } from '../store/schema.js';
import type { Db, Storage } from '../store/store.js';
import { recordChange } from '../store/change-feed.js';
import { randomUUID } from 'node:crypto';
import {
  connectedAgents,
  deleteConnection,
  deleteNode,
  findAgent,
  insertConnection,
  listAgents,
  purgeDeadNodes,
  recordHeartbeat,
  touchAgents,
  touchNode,
  upsertAgent,
} from './agent.repository.js';

export const AGENT_STATUSES = ['active', 'idle', 'offline'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** Seen within a minute: active; within five: idle; else offline. An open WebSocket counts as seen now. */
export const ACTIVE_WINDOW_MS = 60_000;
export const IDLE_WINDOW_MS = 5 * 60_000;
const FLUSH_MS = 5_000;
/** A node refreshes its row every FLUSH_MS while it holds sockets; one older than this died. */
const CONNECTION_STALE_MS = 4 * FLUSH_MS;

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
 * seconds (a write per call would halve write throughput); heartbeats are written at once. Open
 * WebSockets are counted here and recorded per node in the database (`agent_connections`), so
 * every node of a deployment sees the same presence.
 */
export class AgentService {
  private readonly seen = new Map<string, number>();
  private readonly connections = new Map<string, number>();
  /** This process, among the nodes sharing the database. */
  private readonly nodeId = randomUUID();
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
    const before = this.connections.get(agentId) ?? 0;
    const n = before + delta;
    if (n > 0) this.connections.set(agentId, n);
    else this.connections.delete(agentId);
    this.touch(agentId);
    const now = nowMs();
    this.store
      .write(async (trx) => {
        if (before === 0 && n > 0) {
          await touchNode(trx, this.nodeId, now);
          await insertConnection(trx, this.nodeId, agentId, now);
        } else if (n <= 0) await deleteConnection(trx, this.nodeId, agentId);
        await recordChange(trx, 'presence', null, agentId, n > 0 ? 'active' : 'idle');
      })
      .catch(this.onError);
  }

  async flush(): Promise<void> {
    const batch = new Map(this.seen);
    this.seen.clear();
    if (batch.size === 0 && this.connections.size === 0) return;
    const now = nowMs();
    await this.store.write(async (trx) => {
      if (batch.size > 0) await touchAgents(trx, batch);
      // One row per node, whatever its number of sockets: its connections count while it is fresh.
      if (this.connections.size > 0) {
        await touchNode(trx, this.nodeId, now);
        await purgeDeadNodes(trx, now - 3 * CONNECTION_STALE_MS);
      }
    });
  }

  /** Stops the flusher and forgets this node's connections (its sockets are closing). */
  async stop(): Promise<void> {
    clearInterval(this.flusher);
    await this.store.write((trx) => deleteNode(trx, this.nodeId));
  }

  /** The agents of `ids` (or all) with a WebSocket open on any node. */
  private async connectedSet(ids?: readonly string[], now = nowMs()): Promise<Set<string>> {
    const anywhere = await connectedAgents(this.store.db, now - CONNECTION_STALE_MS, ids);
    for (const id of this.connections.keys()) if (ids === undefined || ids.includes(id)) anywhere.add(id);
    return anywhere;
  }

  private view(row: AgentRow, now: number, connectedNodes: ReadonlySet<string>): AgentView {
    const connected = connectedNodes.has(row.agent_id);
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
    const rows = (await listAgents(this.store.db, input.sessionId, 1000)).filter(
      (r) => r.agent_id !== caller.agentId,
    );
    const connected = await this.connectedSet(undefined, now);
    return { agent: this.view(row, now, connected), peers: rows.map((r) => this.view(r, now, connected)) };
  }

  async heartbeat(caller: Principal, status: 'active' | 'idle' | undefined): Promise<AgentView> {
    const now = nowMs();
    const row = await this.store.write(async (trx) => {
      const saved =
        (await recordHeartbeat(trx, caller.agentId, now, status ?? null)) ??
        (await this.registerBare(trx, caller, now, status));
      return saved;
    });
    return this.view(row, now, await this.connectedSet([caller.agentId], now));
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
    const connected = await this.connectedSet(undefined, now);
    const views = (await listAgents(this.store.db, filter.sessionId, 10_000)).map((r) =>
      this.view(r, now, connected),
    );
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
