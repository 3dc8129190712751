import { fromJsonText, toJsonText } from '../core/json.js';
import { nowMs } from '../core/time.js';
import type { Storage } from '../store/store.js';
import {
  deleteMcpSession,
  findMcpSession,
  insertMcpSession,
  purgeMcpSessionsSeenBefore,
  updateMcpSession,
} from './mcp-session.repository.js';

/** What another node needs to take a 2025-era MCP session over. */
export interface SavedMcpSession {
  sessionId: string;
  agentId: string | undefined;
  /** The params of the initialize request that opened it. */
  initialize: Record<string, unknown>;
  /** The resource URIs it is subscribed to. */
  subscriptions: string[];
}

/** `seen_at` is refreshed at most this often per session (and a quarter of the idle time when shorter). */
const SEEN_REFRESH_MS = 60_000;

/**
 * MCP sessions kept in the database (docs/postgres.md): the node that serves a session records
 * it, its agent and its subscriptions; a node that gets a request for a session it does not hold
 * reads it here and takes it over. A session ended by its client (DELETE) or idle past
 * MCP_SESSION_IDLE_SECONDS is deleted; one whose node stopped or died stays for another node.
 */
export class McpSessionService {
  private readonly refreshed = new Map<string, number>();
  private readonly refreshMs: number;

  /** `idleMs`: MCP_SESSION_IDLE_SECONDS; retention deletes a session not seen for that long. */
  constructor(
    private readonly store: Storage,
    idleMs: number,
  ) {
    this.refreshMs = Math.min(SEEN_REFRESH_MS, idleMs / 4);
  }

  async save(session: SavedMcpSession): Promise<void> {
    const now = nowMs();
    this.refreshed.set(session.sessionId, now);
    await this.store.write((trx) =>
      insertMcpSession(trx, {
        session_id: session.sessionId,
        agent_id: session.agentId ?? null,
        initialize: toJsonText(session.initialize),
        subscriptions: toJsonText(session.subscriptions),
        created_at: now,
        seen_at: now,
      }),
    );
  }

  async find(sessionId: string): Promise<SavedMcpSession | undefined> {
    const row = await findMcpSession(this.store.db, sessionId);
    if (row === undefined) return undefined;
    return {
      sessionId: row.session_id,
      agentId: row.agent_id ?? undefined,
      initialize: fromJsonText<Record<string, unknown>>(row.initialize) ?? {},
      subscriptions: fromJsonText<string[]>(row.subscriptions) ?? [],
    };
  }

  async bind(sessionId: string, agentId: string): Promise<void> {
    await this.store.write((trx) => updateMcpSession(trx, sessionId, { agent_id: agentId }));
  }

  async setSubscriptions(sessionId: string, uris: readonly string[]): Promise<void> {
    await this.store.write((trx) =>
      updateMcpSession(trx, sessionId, { subscriptions: toJsonText(uris), seen_at: nowMs() }),
    );
  }

  /** A request on the session: refreshes `seen_at` now and then (one write a minute at most), so retention keeps it. */
  touch(sessionId: string): void {
    const now = nowMs();
    if (now - (this.refreshed.get(sessionId) ?? 0) < this.refreshMs) return;
    this.refreshed.set(sessionId, now);
    this.store.write((trx) => updateMcpSession(trx, sessionId, { seen_at: now })).catch(() => undefined);
  }

  async remove(sessionId: string): Promise<void> {
    this.refreshed.delete(sessionId);
    await this.store.write((trx) => deleteMcpSession(trx, sessionId));
  }

  /** Retention: sessions nobody used since `cutoff` (their node is gone, or they idled out unseen). */
  purgeIdle(cutoff: number): Promise<number> {
    return this.store.write((trx) => purgeMcpSessionsSeenBefore(trx, cutoff));
  }

  /** Forgets what this process held (shutdown), keeping the rows for other nodes. */
  forget(sessionId: string): void {
    this.refreshed.delete(sessionId);
  }
}
