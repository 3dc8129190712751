import type { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import type { ClientBuffer } from './client-buffer.js';
import type { SessionEventStore } from './event-store.js';
import type { SessionStream } from './session-stream.js';

/** One 2025-era MCP session (initialize handshake, Mcp-Session-Id). */
export interface McpSession {
  readonly id: string;
  readonly transport: NodeStreamableHTTPServerTransport;
  /** The GET stream that carries the session's notifications. */
  readonly stream: SessionStream;
  /** Unread bytes across the session's open responses. */
  readonly buffer: ClientBuffer;
  /** The SSE events of its POST replies kept for Last-Event-ID replay. */
  readonly events: SessionEventStore;
  /** The agent the session is bound to; undefined until a request authenticates on it. */
  agentId: string | undefined;
  lastSeen: number;
  close(): Promise<void>;
}

export interface SessionLimits {
  readonly max: number;
  readonly idleMs: number;
  readonly anonymousIdleMs: number;
}

/** The answer to "may one more session open?": yes, or not before `retryAfter` seconds. */
export type Room = { ok: true } | { ok: false; retryAfter: number };

const MAX_RETRY_AFTER_SECONDS = 60;

/**
 * The open sessions, least recently used first, within a cap and idle expiry: a session nobody
 * authenticated on is closed after a short idle time and is the first to make room for a new one;
 * a bound session lives `idleMs` past its last request and while it has an open response.
 */
export class McpSessionRegistry {
  private readonly sessions = new Map<string, McpSession>();
  private opening = 0;

  constructor(private readonly limits: SessionLimits) {}

  get size(): number {
    return this.sessions.size;
  }

  get(id: string): McpSession | undefined {
    return this.sessions.get(id);
  }

  /** Marks a request on `session` (moves it to the most recently used end). */
  touch(session: McpSession): void {
    session.lastSeen = Date.now();
    if (this.sessions.delete(session.id)) this.sessions.set(session.id, session);
  }

  add(session: McpSession): void {
    this.sessions.set(session.id, session);
  }

  remove(id: string): void {
    this.sessions.delete(id);
  }

  /**
   * Holds a place for a session about to open (call `release()` once it is added or failed). When
   * the cap is reached an anonymous session makes room — an idle one first, else the least recently
   * used (an anonymous stream carries nothing: subscribing needs credentials, which bind).
   */
  reserve(): Room {
    if (this.sessions.size + this.opening >= this.limits.max) {
      const victim = this.evictable();
      if (victim === undefined) return { ok: false, retryAfter: this.retryAfter() };
      this.evict(victim);
    }
    this.opening++;
    return { ok: true };
  }

  release(): void {
    this.opening--;
  }

  /** Closes the sessions past their idle time. */
  sweep(now = Date.now()): void {
    for (const session of [...this.sessions.values()]) {
      const anonymous = session.agentId === undefined;
      const idleFor = now - session.lastSeen;
      if (
        anonymous ? idleFor > this.limits.anonymousIdleMs : idleFor > this.limits.idleMs && !busy(session)
      ) {
        this.evict(session);
      }
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(all.map((s) => s.close()));
  }

  private evictable(): McpSession | undefined {
    let fallback: McpSession | undefined;
    for (const session of this.sessions.values()) {
      if (session.agentId !== undefined) continue;
      if (!busy(session)) return session;
      fallback ??= session;
    }
    return fallback;
  }

  private evict(session: McpSession): void {
    this.sessions.delete(session.id);
    void session.close();
  }

  /** Seconds until a bound session may expire (bounded: one may also end with DELETE any time). */
  private retryAfter(): number {
    const now = Date.now();
    let soonest = this.limits.idleMs;
    for (const session of this.sessions.values()) {
      if (!busy(session)) soonest = Math.min(soonest, session.lastSeen + this.limits.idleMs - now);
    }
    return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(soonest / 1000)));
  }
}

const busy = (session: McpSession): boolean => session.buffer.streams > 0;
