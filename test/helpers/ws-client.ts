import { WebSocket, type RawData } from 'ws';

/** A frame the server pushed: `{type, ...}`. */
export type WsFrame = Record<string, unknown> & { type: string };

/** Waits until `predicate` holds or `ms` pass (bounded; not a timing assertion). */
export async function until(predicate: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate()) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

/** The HTTP answer to a refused WebSocket upgrade. */
export interface RefusedUpgrade {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/**
 * A `ws` client on /ws/{agent_id} that records every frame, so a test can wait for the frame it
 * expects and then look at everything that came before it.
 */
export class TestSocket {
  readonly frames: WsFrame[] = [];
  closeCode: number | undefined;
  /** The last error the client saw (a refused upgrade, a reset): recorded so it never goes unhandled. */
  error: Error | undefined;
  /** Set by `stopRecording`: frames that still arrive are dropped (a client that went away). */
  private recording = true;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: RawData) => {
      if (this.recording) this.frames.push(JSON.parse(data.toString()) as WsFrame);
    });
    ws.on('close', (code: number) => {
      this.closeCode = code;
    });
    ws.on('error', (error: Error) => {
      this.error = error;
    });
  }

  /** Opens a socket; rejects with a `RefusedUpgrade` when the server answers the upgrade with an error. */
  static open(
    baseUrl: string,
    agentId: string,
    options: { headers?: Record<string, string>; query?: Record<string, string | number> } = {},
  ): Promise<TestSocket> {
    const url = new URL(`/ws/${encodeURIComponent(agentId)}`, baseUrl.replace(/^http/, 'ws'));
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, String(v));
    const ws = new WebSocket(url, { headers: options.headers ?? {} });
    const socket = new TestSocket(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(socket));
      ws.once('error', reject);
      ws.once('unexpected-response', (req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          req.destroy();
          const text = Buffer.concat(chunks).toString();
          reject({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          } satisfies RefusedUpgrade);
        });
      });
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Frames of one type, in arrival order. */
  ofType(type: string): WsFrame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** The first frame (from index `from`) that matches; throws after `ms` without one. */
  async waitFor(predicate: (f: WsFrame) => boolean, ms = 5000, from = 0): Promise<WsFrame> {
    const find = () => this.frames.slice(from).find(predicate);
    await until(() => find() !== undefined || this.closeCode !== undefined, ms);
    const found = find();
    if (found === undefined) {
      throw new Error(
        `no matching frame within ${ms} ms (close code ${this.closeCode}); got ${JSON.stringify(this.frames.map((f) => f.type))}`,
      );
    }
    return found;
  }

  /** The next frame of `type` that arrives after this call (ignores earlier ones). */
  next(type: string, ms = 5000): Promise<WsFrame> {
    return this.waitFor((f) => f.type === type, ms, this.frames.length);
  }

  stopRecording(): void {
    this.recording = false;
  }

  /** Closes politely and waits for the close to finish. */
  async close(): Promise<void> {
    const state = (): number => this.ws.readyState;
    if (state() === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    if (state() === WebSocket.OPEN) this.ws.close();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    if (state() !== WebSocket.CLOSED) this.ws.terminate();
  }
}
