import type { ChangeSummary, DomainEvent, FeedEvents } from '../events/events.js';

/** One open dashboard socket, as the hub sees it. */
export interface DashboardTarget {
  /** The id of the login (JWT) the socket was opened with: its logout ends the socket. */
  readonly tokenId: string;
  /** Sends a frame, or cuts off a client too slow to read them (its own budget). */
  sendText(text: string): void;
  /** The login was revoked. */
  onRevoked(): void;
}

export interface DashboardHubOptions {
  /** The feed cursor the sockets start from (sent in `hello`). */
  cursor(): number;
  /** What a `metrics` frame carries (what GET /ui/api/metrics answers). */
  metrics(): Promise<Record<string, unknown>>;
  /** The agent id dashboard logins are revoked under (their revocation changes are wanted). */
  principalId: string;
  onError(error: unknown): void;
  /** How often `metrics` frames go out while a socket is open. */
  metricsEveryMs?: number;
}

const METRICS_EVERY_MS = 2_000;
const WANTED = new Set(['message', 'session', 'presence', 'mail']);

/**
 * Pushes compact frames to every dashboard socket: each message (every visibility: the dashboard
 * is admin), session status changes, presence, mail without its content, and metrics every 2 s.
 * It wants nothing from the feed while no dashboard is open, so an unwatched server loads nothing
 * for it. A frame is serialized once and the same string goes to every socket.
 */
export class DashboardHub {
  private readonly targets = new Set<DashboardTarget>();
  private readonly unsubscribe: () => void;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    feed: FeedEvents,
    private readonly options: DashboardHubOptions,
  ) {
    this.unsubscribe = feed.subscribe(
      (event) => this.dispatch(event),
      (change) => this.wants(change),
    );
  }

  get open(): number {
    return this.targets.size;
  }

  /** Sends `hello` with the cursor the socket's live frames follow, then every frame until `remove`. */
  add(target: DashboardTarget): void {
    this.targets.add(target);
    target.sendText(JSON.stringify({ type: 'hello', cursor: this.options.cursor() }));
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.pushMetrics(), this.options.metricsEveryMs ?? METRICS_EVERY_MS);
      this.timer.unref();
    }
  }

  remove(target: DashboardTarget): void {
    this.targets.delete(target);
    if (this.targets.size === 0) this.stopTimer();
  }

  close(): void {
    this.unsubscribe();
    this.stopTimer();
    this.targets.clear();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private wants(change: ChangeSummary): boolean {
    if (this.targets.size === 0) return false;
    if (change.kind === 'revocation') return change.agent_id === this.options.principalId;
    return WANTED.has(change.kind);
  }

  private dispatch(event: DomainEvent): void {
    switch (event.type) {
      case 'message.created':
        return this.broadcast({ type: 'message', message: event.message });
      case 'session.changed':
        return this.broadcast({ type: 'session', session_id: event.sessionId, status: event.status });
      case 'agent.presence':
        return this.broadcast({
          type: 'presence',
          agent_id: event.agentId,
          session_id: event.sessionId,
          status: event.status,
        });
      case 'mail.sent': {
        const { id, from, to, reply_to } = event.mail;
        return this.broadcast({ type: 'mail', id, from, to, reply_to });
      }
      case 'token.revoked':
        for (const target of [...this.targets]) {
          if (event.jti === undefined || event.jti === target.tokenId) target.onRevoked();
        }
        return;
      default:
        return;
    }
  }

  private broadcast(frame: object): void {
    if (this.targets.size === 0) return;
    const text = JSON.stringify(frame);
    for (const target of [...this.targets]) target.sendText(text);
  }

  private pushMetrics(): void {
    this.options
      .metrics()
      .then((metrics) => this.broadcast({ type: 'metrics', ...metrics }))
      .catch((error: unknown) => this.options.onError(error));
  }
}
