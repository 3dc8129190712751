import type { ServerResponse } from 'node:http';

/**
 * The bytes written to one MCP client (one session) but not yet read by it, summed over its open
 * responses: SSE replies from the SDK transport, JSON replies from the fast path, the GET stream.
 * Node keeps in memory whatever a socket cannot take, so a client that never reads would make the
 * server hold every reply it is sent. Past `limit` bytes every open response of this client is
 * destroyed — that client alone is cut off; its session stays and it may reconnect and resume.
 */
export class ClientBuffer {
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly limit: number,
    private readonly onOverflow: (unreadBytes: number) => void,
  ) {}

  /** Counts `res` until it closes; checked after each write, where the bytes pile up. */
  track(res: ServerResponse): void {
    if (this.open.has(res) || res.destroyed) return;
    this.open.add(res);
    // Wrapping the two write calls covers every writer (the SDK's stream pump, sendJson, the GET
    // stream) without each having to know about the budget.
    const write = res.write;
    const end = res.end;
    res.write = ((...args: Parameters<typeof write>) => {
      const ok = write.apply(res, args);
      this.check();
      return ok;
    }) as typeof write;
    res.end = ((...args: Parameters<typeof end>) => {
      const ended = end.apply(res, args);
      this.check();
      return ended;
    }) as typeof end;
    res.once('close', () => this.open.delete(res));
  }

  /**
   * For a reply our own code wrote in one piece (the fast path's JSON): counted only when the
   * socket did not take all of it. Cheaper than `track`, whose wrappers change the shape of every
   * response object they touch (and so slow Node's HTTP code down for all of them).
   */
  settle(res: ServerResponse): void {
    if (res.writableLength === 0 || res.destroyed) return;
    if (!this.open.has(res)) {
      this.open.add(res);
      res.once('close', () => this.open.delete(res));
    }
    this.check();
  }

  /** Open responses of this client (the GET stream included). */
  get streams(): number {
    return this.open.size;
  }

  /** Bytes written but not yet taken by the client's sockets. */
  get unread(): number {
    let bytes = 0;
    for (const res of this.open) bytes += res.writableLength;
    return bytes;
  }

  private check(): void {
    const bytes = this.unread;
    if (bytes <= this.limit) return;
    const cut = [...this.open];
    this.open.clear();
    for (const res of cut) res.destroy();
    this.onOverflow(bytes);
  }
}
