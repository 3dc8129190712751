import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** How many recent calls per tool the percentiles are taken over. */
const RECENT = 2048;

type Connections = 'mcp_sessions' | 'websockets' | 'long_polls';

const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/**
 * The server's measurements, in one prom-client registry per process: served as Prometheus text at
 * GET /metrics and as JSON by get_performance_metrics.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly toolCalls = new Counter({
    name: 'scs_tool_calls_total',
    help: 'Tool calls by tool and result code (OK or an error code).',
    labelNames: ['tool', 'code'] as const,
    registers: [this.registry],
  });
  private readonly toolLatency = new Histogram({
    name: 'scs_tool_duration_seconds',
    help: 'Tool call latency, from validated arguments to result.',
    labelNames: ['tool'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  /** The last RECENT latencies (ms) per tool, for percentiles in get_performance_metrics. */
  private readonly recent = new Map<string, { samples: Float64Array; next: number; filled: number }>();
  private readonly errors = new Counter({
    name: 'scs_errors_total',
    help: 'Failures by error code, over every surface.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  private readonly feedChanges = new Counter({
    name: 'scs_feed_changes_total',
    help: 'Committed changes read from the change feed by this process, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  private readonly dbQueries = new Histogram({
    name: 'scs_db_query_duration_seconds',
    help: 'Database query durations.',
    labelNames: ['kind'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  /** Live counts read when scraped, from whoever owns them (see track()). */
  private readonly sources: Record<Connections, () => number> = {
    mcp_sessions: () => 0,
    websockets: () => 0,
    long_polls: () => 0,
  };

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'scs_' });
    for (const [name, help, source] of [
      ['scs_mcp_sessions_open', 'Open MCP (2025-era) sessions.', 'mcp_sessions'],
      ['scs_websockets_open', 'Open WebSocket connections.', 'websockets'],
      ['scs_long_polls_waiting', 'wait_for_messages calls waiting.', 'long_polls'],
    ] as const) {
      const sources = this.sources;
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(sources[source]());
        },
      });
    }
  }

  /** Names the function that tells a live count (open sessions, sockets, waiting long-polls). */
  track(what: Connections, source: () => number): void {
    this.sources[what] = source;
  }

  toolCall(tool: string, code: string, ms: number): void {
    this.toolCalls.inc({ tool, code });
    this.toolLatency.observe({ tool }, ms / 1000);
    let ring = this.recent.get(tool);
    if (!ring) this.recent.set(tool, (ring = { samples: new Float64Array(RECENT), next: 0, filled: 0 }));
    ring.samples[ring.next] = ms;
    ring.next = (ring.next + 1) % RECENT;
    ring.filled = Math.min(ring.filled + 1, RECENT);
    if (code !== 'OK') this.errors.inc({ code });
  }

  error(code: string): void {
    this.errors.inc({ code });
  }

  feedChange(kind: string): void {
    this.feedChanges.inc({ kind });
  }

  dbQuery(sqlText: string, ms: number): void {
    const kind = sqlText.trimStart().slice(0, 6).toLowerCase();
    this.dbQueries.observe({ kind }, ms / 1000);
  }

  /** The same figures as /metrics, shaped for an agent: per tool, counts and latency percentiles (ms). */
  async snapshot(): Promise<Record<string, unknown>> {
    const calls = await this.toolCalls.get();
    const db = await this.dbQueries.get();
    const tools: Record<
      string,
      { calls: number; errors: number; p50_ms?: number; p90_ms?: number; p99_ms?: number }
    > = {};
    for (const v of calls.values) {
      const tool = String(v.labels.tool);
      const entry = (tools[tool] ??= { calls: 0, errors: 0 });
      entry.calls += v.value;
      if (v.labels.code !== 'OK') entry.errors += v.value;
    }
    for (const [tool, ring] of this.recent) {
      const entry = tools[tool];
      if (!entry || ring.filled === 0) continue;
      const sorted = ring.samples.slice(0, ring.filled).sort();
      const at = (q: number) =>
        Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 100) / 100;
      entry.p50_ms = at(0.5);
      entry.p90_ms = at(0.9);
      entry.p99_ms = at(0.99);
    }
    const dbCount = db.values
      .filter((v) => v.metricName === 'scs_db_query_duration_seconds_count')
      .reduce((a, v) => a + v.value, 0);
    const dbSum = db.values
      .filter((v) => v.metricName === 'scs_db_query_duration_seconds_sum')
      .reduce((a, v) => a + v.value, 0);
    return {
      tools,
      connections: {
        mcp_sessions: this.sources.mcp_sessions(),
        websockets: this.sources.websockets(),
        long_polls: this.sources.long_polls(),
      },
      database: {
        queries: dbCount,
        mean_ms: dbCount > 0 ? Math.round((dbSum / dbCount) * 1000 * 1000) / 1000 : 0,
      },
      process: {
        rss_mb: Math.round(process.memoryUsage().rss / 1e6),
        uptime_s: Math.round(process.uptime()),
      },
    };
  }
}
