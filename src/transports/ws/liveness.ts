import type { WebSocket, WebSocketServer } from 'ws';

const PING_MS = 30_000;

/**
 * Pings every client of a WebSocketServer every 30 s and terminates one that did not answer the
 * previous ping (a peer that vanished without a close). `track` each accepted socket.
 */
export class Liveness {
  private readonly alive = new WeakSet<WebSocket>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly wss: WebSocketServer) {
    this.timer = setInterval(() => this.ping(), PING_MS);
    this.timer.unref();
  }

  track(ws: WebSocket): void {
    this.alive.add(ws);
    ws.on('pong', () => this.alive.add(ws));
  }

  /** Stops pinging, then closes every client with 1001 and the server itself. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const ws of this.wss.clients) ws.close(1001, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private ping(): void {
    for (const ws of this.wss.clients) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }
}
