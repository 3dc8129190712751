import { Counter, type Exposed, Gauge, Histogram, PROMETHEUS_CONTENT_TYPE } from './prometheus.js';

/** How many recent calls per tool the percentiles are taken over. */
const RECENT = 2048;

type Connections = 'mcp_sessions' | 'websockets' | 'long_polls';

const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** What GET /metrics serves: the Prometheus text of every metric, and its content type. */
export interface MetricsRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/**
 * The server's measurements, per process: served as Prometheus text at GET /metrics and as JSON by
 * get_performance_metrics. The server's own metrics are recorded from the start (prometheus.ts);
 * the process figures (CPU, memory, event-loop delay, GC: prom-client's default metrics, prefixed
 * scs_) are collected from the first scrape on, when prom-client is loaded (docs/memory.md).
 */
export class Metrics {
  readonly registry: MetricsRegistry = {
    contentType: PROMETHEUS_CONTENT_TYPE,
    metrics: async () =>
      this.own.map((metric) => metric.expose()).join('\n') + '\n' + (await this.processMetrics()),
  };
  private readonly toolCalls = new Counter(
    'scs_tool_calls_total',
    'Tool calls by tool and result code (OK or an error code).',
    ['tool', 'code'],
  );
  private readonly toolLatency = new Histogram(
    'scs_tool_duration_seconds',
    'Tool call latency, from validated arguments to result.',
    ['tool'],
    LATENCY_BUCKETS,
  );
  /** The last RECENT latencies (ms) per tool, for percentiles in get_performance_metrics. */
  private readonly recent = new Map<string, { samples: Float64Array; next: number; filled: number }>();
  private readonly errors = new Counter('scs_errors_total', 'Failures by error code, over every surface.', [
    'code',
  ]);
  private readonly feedChanges = new Counter(
    'scs_feed_changes_total',
    'Committed changes read from the change feed by this process, by kind.',
    ['kind'],
  );
  private readonly dbQueries = new Histogram(
    'scs_db_query_duration_seconds',
    'Database query durations.',
    ['kind'],
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1],
  );
  /** Live counts read when scraped, from whoever owns them (see track()). */
  private readonly sources: Record<Connections, () => number> = {
    mcp_sessions: () => 0,
    websockets: () => 0,
    long_polls: () => 0,
  };
  private readonly own: Exposed[] = [
    this.toolCalls,
    this.toolLatency,
    this.errors,
    this.feedChanges,
    this.dbQueries,
    new Gauge('scs_mcp_sessions_open', 'Open MCP (2025-era) sessions.', () => this.sources.mcp_sessions()),
    new Gauge('scs_websockets_open', 'Open WebSocket connections.', () => this.sources.websockets()),
    new Gauge('scs_long_polls_waiting', 'wait_for_messages calls waiting.', () => this.sources.long_polls()),
  ];
  /** prom-client's default metrics, registered at the first scrape. */
  private processRegistry: Promise<{ metrics(): Promise<string> }> | undefined;

  private async processMetrics(): Promise<string> {
    if (this.processRegistry === undefined) {
      const loading = import('prom-client').then(({ Registry, collectDefaultMetrics }) => {
        const registry = new Registry();
        collectDefaultMetrics({ register: registry, prefix: 'scs_' });
        return registry;
      });
      loading.catch(() => (this.processRegistry = undefined));
      this.processRegistry = loading;
    }
    return (await this.processRegistry).metrics();
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
    const tools: Record<
      string,
      { calls: number; errors: number; p50_ms?: number; p90_ms?: number; p99_ms?: number }
    > = {};
    for (const v of this.toolCalls.values()) {
      const entry = (tools[v.labels.tool] ??= { calls: 0, errors: 0 });
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
    const { count: dbCount, sum: dbSum } = this.dbQueries.totals();
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
