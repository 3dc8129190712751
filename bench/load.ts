import { Agent, type IncomingHttpHeaders, request } from 'node:http';

/**
 * The load generator: N concurrent clients, each looping one request at a time, over node:http with
 * a keep-alive Agent (one socket per client). Lower overhead per request than fetch (undici), so
 * the generator, which shares the 2 cores with the server under test, takes as little as it can.
 */

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export function keepAliveAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'fifo' });
}

/** POST a body and collect the whole response as text. Only 127.0.0.1 is ever targeted. */
export function post(
  agent: Agent,
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1') throw new Error(`refusing to send load to ${target.hostname}`);
  const payload = Buffer.from(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': payload.length, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The JSON-RPC messages in a Streamable HTTP reply: a JSON body, or the `data:` lines of an SSE stream. */
export function rpcMessages(result: HttpResult): Array<Record<string, unknown>> {
  const type = String(result.headers['content-type'] ?? '');
  if (result.body.length === 0) return [];
  if (!type.includes('text/event-stream')) {
    const parsed = JSON.parse(result.body) as unknown;
    return (Array.isArray(parsed) ? parsed : [parsed]) as Array<Record<string, unknown>>;
  }
  const messages: Array<Record<string, unknown>> = [];
  for (const event of result.body.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (data.length > 0) messages.push(JSON.parse(data) as Record<string, unknown>);
  }
  return messages;
}

export interface LoadOptions<S> {
  clients: number;
  warmupMs: number;
  durationMs: number;
  /** Per-client preparation (e.g. an MCP initialize), before the clock starts. */
  setup: (client: number) => Promise<S>;
  /** One request; resolves true when the reply was a success. */
  request: (state: S, client: number) => Promise<boolean>;
  /** Called when the measured window opens and closes (e.g. to sample CPU). */
  onWindowStart?: () => void;
  onWindowEnd?: () => void;
}

export interface LoadResult {
  clients: number;
  seconds: number;
  /** Successful requests completed inside the measured window (latencies: those also sent inside it). */
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** A sample failure, when there were any. */
  firstError?: string;
  /** The slowest measured requests: when they were sent (ms after the start, warm-up included) and how long they took. */
  slowest: Array<{ sentAtMs: number; ms: number }>;
  /** Requests completed during the warm-up, and the slowest of them (a cold server's first requests). */
  warmup: { requests: number; maxMs: number };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** Latency summary (ms) of a list of samples. */
export function summarize(samples: number[]): {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
} {
  const sorted = Float64Array.from(samples).sort();
  const mean = sorted.length === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 0.5)),
    p90: round(percentile(sorted, 0.9)),
    p99: round(percentile(sorted, 0.99)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
    mean: round(mean),
  };
}

/**
 * Every client loops `request` from the start; the first `warmupMs` are warm-up, then `durationMs`
 * is measured. Throughput counts the successes completed inside the window; latency (send to last
 * byte) is taken from the requests both sent and completed inside it, so a cold server's first
 * requests (JIT, first-use compilation) stay in the warm-up figures.
 */
export async function runLoad<S>(options: LoadOptions<S>): Promise<LoadResult> {
  const states = await Promise.all(Array.from({ length: options.clients }, (_, i) => options.setup(i)));
  const latencies: number[] = [];
  const sentAt: number[] = [];
  let completed = 0;
  let errors = 0;
  let warmupRequests = 0;
  let warmupMaxMs = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const from = t0 + options.warmupMs;
  const until = from + options.durationMs;
  let windowEnded = false;
  const endWindow = () => {
    if (windowEnded) return;
    windowEnded = true;
    options.onWindowEnd?.();
  };
  const timers = [
    setTimeout(() => options.onWindowStart?.(), options.warmupMs),
    setTimeout(endWindow, options.warmupMs + options.durationMs),
  ];

  async function client(i: number): Promise<void> {
    const state = states[i] as S;
    while (performance.now() < until) {
      const started = performance.now();
      let ok: boolean;
      try {
        ok = await options.request(state, i);
      } catch (error) {
        ok = false;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
      const ended = performance.now();
      if (ended < from) {
        warmupRequests++;
        warmupMaxMs = Math.max(warmupMaxMs, ended - started);
        continue;
      }
      if (ended > until) continue;
      if (!ok) {
        errors++;
        continue;
      }
      completed++;
      if (started >= from) {
        latencies.push(ended - started);
        sentAt.push(started - t0);
      }
    }
  }

  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  for (const timer of timers) clearTimeout(timer);
  endWindow();
  const seconds = options.durationMs / 1000;
  const summary = summarize(latencies);
  return {
    clients: options.clients,
    seconds,
    requests: completed,
    errors,
    rps: round(completed / seconds, 1),
    p50: summary.p50,
    p90: summary.p90,
    p99: summary.p99,
    max: summary.max,
    mean: summary.mean,
    ...(firstError !== undefined ? { firstError } : {}),
    slowest: latencies
      .map((ms, i) => ({ sentAtMs: round(sentAt[i] ?? 0, 0), ms: round(ms) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5),
    warmup: { requests: warmupRequests, maxMs: round(warmupMaxMs) },
  };
}
