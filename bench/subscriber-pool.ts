/**
 * Subscribers for the delivery benchmarks (fanout.bench.ts, pg.bench.ts): N connections to a
 * session over WebSocket or MCP resource subscriptions, each receipt stamped on one clock, and the
 * writer's side of it (a paced add_message loop whose content names each message's index).
 */
import { Agent, type IncomingMessage, request } from 'node:http';
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION, initializeRequest } from './common.js';
import { type HttpResult, keepAliveAgent, post, rpcMessages } from './load.js';

export type Transport = 'websocket' | 'mcp';

/** Subscribers connecting (and agents authenticating) at once. */
export const CONNECT_CONCURRENCY = 50;

/** One clock for sends and receipts: wall-clock based, so forked workers can share it. */
export const now = (): number => performance.timeOrigin + performance.now();

/** A realistic blackboard message (~250 characters) that names its index and send time. */
const content = (k: number, sentAt: number): string =>
  `fanout #${k} sent=${sentAt.toFixed(3)} Finding: the connection pool in the authentication service is ` +
  'exhausted under load; retries pile up behind the database migration lock. Proposal: cap retries at 3.';
export const INDEX_IN_FRAME = /"content":"fanout #(\d+) /;

export function fail(what: string, res: HttpResult): never {
  throw new Error(`${what}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function inPool<T>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

export interface Subscriber {
  agentId: string;
  token: string;
}

export interface PoolSpec {
  transport: Transport;
  url: string;
  sessionId: string;
  subscribers: Subscriber[];
  /** Messages the writer sends (warm-up included); receipts are indexed 0..total-1. */
  total: number;
}

/**
 * N subscriber connections and their receipts: receipts[s * total + k] is when subscriber s got
 * message k (NaN until then).
 */
export class SubscriberPool {
  readonly receipts: Float64Array;
  received = 0;
  duplicates = 0;
  unexpected = 0;
  firstError: string | undefined;
  private closing = false;
  private readonly closers: Array<() => void> = [];
  private readonly counts: Int32Array;
  private readonly rpcAgent = keepAliveAgent(CONNECT_CONCURRENCY);
  private readonly streamAgent = new Agent({ keepAlive: false, maxSockets: Infinity });

  constructor(private readonly spec: PoolSpec) {
    this.receipts = new Float64Array(spec.subscribers.length * spec.total).fill(Number.NaN);
    this.counts = new Int32Array(spec.subscribers.length);
  }

  async connect(): Promise<void> {
    const { spec } = this;
    await inPool(spec.subscribers, CONNECT_CONCURRENCY, (sub, s) =>
      spec.transport === 'websocket' ? this.connectWs(sub, s) : this.connectMcp(sub, s),
    );
    this.rpcAgent.destroy();
  }

  private record(s: number, k: number, at: number): void {
    if (k < 0 || k >= this.spec.total) {
      this.unexpected++;
      return;
    }
    const slot = s * this.spec.total + k;
    if (!Number.isNaN(this.receipts[slot]!)) {
      this.duplicates++;
      return;
    }
    this.receipts[slot] = at;
    this.received++;
  }

  private noteError(error: string): void {
    this.firstError ??= error;
  }

  /** WebSocket: wait for "welcome", subscribe, wait for "subscribed"; then every session_message is a receipt. */
  private connectWs(sub: Subscriber, s: number): Promise<void> {
    const { spec } = this;
    const ws = new WebSocket(`${spec.url.replace(/^http/, 'ws')}/ws/${encodeURIComponent(sub.agentId)}`, {
      headers: { authorization: `Bearer ${sub.token}` },
      perMessageDeflate: false,
    });
    this.closers.push(() => ws.terminate());
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      ws.on('message', (data: Buffer) => {
        const at = now();
        const text = data.toString();
        if (ready) {
          const match = INDEX_IN_FRAME.exec(text);
          if (match && text.startsWith('{"type":"session_message"')) this.record(s, Number(match[1]), at);
          else this.unexpected++;
          return;
        }
        const frame = JSON.parse(text) as { type?: string; error?: string };
        if (frame.type === 'welcome')
          ws.send(JSON.stringify({ type: 'subscribe', session_id: spec.sessionId }));
        else if (frame.type === 'subscribed') {
          ready = true;
          resolve();
        } else if (frame.type === 'error') reject(new Error(`ws ${sub.agentId}: ${frame.error}`));
      });
      ws.once('error', (error) => {
        if (!ready) reject(error);
        else if (!this.closing) this.noteError(error.message);
      });
      ws.once('close', (code) => {
        if (!ready) reject(new Error(`ws ${sub.agentId} closed (${code}) before subscribing`));
        else if (!this.closing) this.noteError(`ws ${sub.agentId} closed by server (${code})`);
      });
    });
  }

  /** MCP: initialize, initialized, GET SSE stream, resources/subscribe; each resources/updated is a receipt. */
  private async connectMcp(sub: Subscriber, s: number): Promise<void> {
    const url = `${this.spec.url}/mcp`;
    const base = {
      authorization: `Bearer ${sub.token}`,
      accept: 'application/json, text/event-stream',
    };
    const init = await post(this.rpcAgent, url, initializeRequest(sub.agentId), base);
    const sessionHeader = init.headers['mcp-session-id'];
    if (init.status !== 200 || typeof sessionHeader !== 'string') fail('initialize', init);
    const headers = { ...base, 'mcp-session-id': sessionHeader, 'mcp-protocol-version': PROTOCOL_VERSION };
    const ack = await post(
      this.rpcAgent,
      url,
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      headers,
    );
    if (ack.status !== 202) fail('notifications/initialized', ack);
    await this.openStream(url, headers, s);
    const uri = `session://${this.spec.sessionId}`;
    const res = await post(
      this.rpcAgent,
      url,
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'resources/subscribe', params: { uri } }),
      headers,
    );
    const reply = rpcMessages(res).find((m) => m.id === 1);
    if (res.status !== 200 || reply?.result === undefined) fail('resources/subscribe', res);
  }

  /** The session's GET SSE stream; resolves once the response headers arrived (the stream is registered). */
  private openStream(url: string, headers: Record<string, string>, s: number): Promise<void> {
    const target = new URL(url);
    if (target.hostname !== '127.0.0.1') throw new Error(`refusing to connect to ${target.hostname}`);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.streamAgent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'GET',
          headers: { ...headers, accept: 'text/event-stream' },
        },
        (res: IncomingMessage) => {
          if (res.statusCode !== 200) {
            reject(new Error(`GET /mcp: HTTP ${res.statusCode}`));
            res.resume();
            return;
          }
          res.setEncoding('utf8');
          let pending = '';
          res.on('data', (chunk: string) => {
            const at = now();
            pending += chunk;
            let end: number;
            while ((end = pending.indexOf('\n\n')) >= 0) {
              const event = pending.slice(0, end);
              pending = pending.slice(end + 2);
              if (event.includes('"method":"notifications/resources/updated"'))
                this.record(s, this.counts[s]!++, at);
              else if (event.includes('data:')) this.unexpected++;
            }
          });
          res.on('error', (error) => {
            if (!this.closing) this.noteError(error.message);
          });
          resolve();
        },
      );
      req.on('error', (error) => {
        if (!this.closing) this.noteError(error.message);
        reject(error);
      });
      this.closers.push(() => req.destroy());
      req.end();
    });
  }

  close(): void {
    this.closing = true;
    for (const close of this.closers) close();
    this.closers.length = 0;
    this.rpcAgent.destroy();
    this.streamAgent.destroy();
  }
}

/**
 * add_message of message `k` (its content names k and the send time) over the HTTP tool route;
 * resolves with the send time, on the receipts' clock.
 */
export async function sendIndexed(
  agent: Agent,
  baseUrl: string,
  auth: Record<string, string>,
  sessionId: string,
  k: number,
): Promise<number> {
  const at = now();
  const res = await post(
    agent,
    `${baseUrl}/mcp/tool/add_message`,
    JSON.stringify({ session_id: sessionId, content: content(k, at) }),
    auth,
  );
  if (res.status !== 200 || !res.body.startsWith('{"success":true')) fail('add_message', res);
  return at;
}

/**
 * Calls `step(k)` for k = 0..total-1, the k-th no earlier than k × gapMs after the first (later
 * when a step takes longer than the gap).
 */
export async function paced(total: number, gapMs: number, step: (k: number) => Promise<void>): Promise<void> {
  const t0 = performance.now();
  for (let k = 0; k < total; k++) {
    const wait = t0 + k * gapMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await step(k);
  }
}

/**
 * Waits until `received()` reaches `expected`, or `maxMs` passed, or nothing arrived for `idleMs`
 * (delivery stalled); resolves with the last count.
 */
export async function waitForReceipts(
  received: () => number | Promise<number>,
  expected: number,
  maxMs = 20_000,
  idleMs = 3_000,
): Promise<number> {
  const start = performance.now();
  let last = await received();
  let lastProgress = performance.now();
  while (last < expected && performance.now() - start < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const current = await received();
    if (current > last) {
      last = current;
      lastProgress = performance.now();
    } else if (performance.now() - lastProgress > idleMs) break;
  }
  return last;
}
