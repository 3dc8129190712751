import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { Liveness } from '../ws/liveness.js';
import type { Services } from '../../app/services.js';
import { DASHBOARD_PRINCIPAL, type DashboardClaims } from '../../auth/dashboard-auth.js';
import { AppError, internalFailure } from '../../core/errors.js';
import { type DashboardTarget, DashboardHub } from '../../realtime/dashboard-hub.js';
import { SLOW_CONSUMER_CLOSE } from '../ws/agent-socket.js';
import { writeRefusal } from '../ws/ws-server.js';
import { UI_COOKIE, readCookie } from './cookies.js';
import { clientAddressOf } from '../http/credentials.js';

export { UI_LIVE_PATH } from './ui.routes.js';

/** The page sends nothing; a frame from it is at most a small control message. */
const MAX_CLIENT_FRAME = 4 * 1024;
const CLOSE_LOGIN_ENDED = 4001;

type ToolFigures = Record<string, { calls?: number; p99_ms?: number }>;

/**
 * A metrics snapshot with the figures the dashboard's charts read: `latency.p99_ms`, the highest
 * per-tool p99 over each tool's recent calls (null before any call), with the tool it belongs to;
 * and `connections.dashboards`, the open dashboard sockets.
 */
export function withChartFigures(
  snapshot: Record<string, unknown>,
  dashboards: number,
): Record<string, unknown> {
  let worst: { tool: string; p99: number } | undefined;
  for (const [tool, figures] of Object.entries((snapshot.tools ?? {}) as ToolFigures)) {
    const p99 = figures.p99_ms;
    if (p99 !== undefined && (worst === undefined || p99 > worst.p99)) worst = { tool, p99 };
  }
  return {
    ...snapshot,
    latency: { p99_ms: worst?.p99 ?? null, tool: worst?.tool ?? null },
    connections: { ...(snapshot.connections as Record<string, number> | undefined), dashboards },
  };
}

/** One dashboard socket: bounded like an agent's (bytes queued past the budget close it with 1013). */
class DashboardSocket implements DashboardTarget {
  readonly tokenId: string;
  private closed = false;
  private readonly expiry: NodeJS.Timeout;

  constructor(
    private readonly ws: WebSocket,
    claims: DashboardClaims,
    private readonly maxBufferBytes: number,
  ) {
    this.tokenId = claims.jti;
    const ms = claims.expiresAt * 1000 - Date.now();
    this.expiry = setTimeout(() => this.end(CLOSE_LOGIN_ENDED, 'login expired'), Math.max(0, ms));
    this.expiry.unref();
  }

  sendText(text: string): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount + text.length > this.maxBufferBytes) {
      // The page re-reads what it shows when it reconnects: nothing is lost by cutting it off.
      this.end(SLOW_CONSUMER_CLOSE, 'slow consumer: reconnect and re-read');
      return;
    }
    this.ws.send(text);
  }

  onRevoked(): void {
    this.end(CLOSE_LOGIN_ENDED, 'logged out');
  }

  markClosed(): void {
    this.closed = true;
    clearTimeout(this.expiry);
  }

  end(code: number, reason: string): void {
    if (this.closed) return;
    this.markClosed();
    this.ws.close(code, reason);
  }
}

/**
 * WebSocket /ui/live: the dashboard's push channel, authenticated by the login cookie. Frames come
 * from one DashboardHub (src/realtime/dashboard-hub.ts); this class only accepts and closes sockets.
 */
export class DashboardSockets {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME });
  private readonly hub: DashboardHub;
  private readonly liveness: Liveness;

  constructor(private readonly services: Services) {
    this.hub = new DashboardHub(services.feed, {
      cursor: () => services.feed.position,
      // The frame is the snapshot's fields beside `type` (GET /ui/api/metrics nests them under
      // `metrics`), plus what the charts plot that the snapshot has only per tool or not at all.
      metrics: async () => withChartFigures(await services.metrics.snapshot(), this.open),
      principalId: DASHBOARD_PRINCIPAL.agentId,
      onError: (error) => services.logger.warn({ err: error }, 'dashboard metrics failed'),
    });
    this.liveness = new Liveness(this.wss);
    this.wss.on('error', (error) => services.logger.warn({ err: error }, 'dashboard websocket server error'));
    this.wss.on('wsClientError', (error: Error, socket: Duplex) => {
      writeRefusal(socket, new AppError('INVALID_INPUT', `WebSocket handshake refused: ${error.message}.`));
    });
  }

  get open(): number {
    return this.wss.clients.size;
  }

  /** Handles the upgrade of /ui/live; a missing or ended login is refused on the raw socket (401). */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let claims: DashboardClaims;
    try {
      claims = await this.services.dashboard.verify(readCookie(req, UI_COOKIE), clientAddressOf(req));
      this.services.rateLimiter.take(DASHBOARD_PRINCIPAL.agentId, clientAddressOf(req));
    } catch (error) {
      const refusal =
        error instanceof AppError ? error : new AppError('INTERNAL_ERROR', internalFailure().error);
      if (!(error instanceof AppError)) {
        this.services.logger.error({ err: error }, 'dashboard socket authentication failed unexpectedly');
      }
      this.services.metrics.error(refusal.code);
      writeRefusal(socket, refusal);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, claims));
  }

  private accept(ws: WebSocket, claims: DashboardClaims): void {
    const conn = new DashboardSocket(ws, claims, this.services.config.limits.maxClientBufferBytes);
    this.liveness.track(ws);
    // A bad frame (too large, bad UTF-8) is an 'error' before ws closes the socket: log, never crash.
    ws.on('error', (error: Error & { code?: string }) => {
      this.services.logger.debug({ code: error.code, reason: error.message }, 'dashboard socket error');
      ws.terminate();
    });
    ws.on('close', () => {
      conn.markClosed();
      this.hub.remove(conn);
    });
    this.hub.add(conn);
  }

  async close(): Promise<void> {
    this.hub.close();
    await this.liveness.close();
  }
}
