/**
 * Live metrics from the `metrics` frames (every 2 s): tool calls per second, the worst per-tool
 * latency p99 and the open connections as small uPlot charts, each with its latest values in text;
 * then the latest per-tool table. The first figures come from GET metrics.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorText } from '../format.js';
import { useLiveFrames } from '../hooks.js';
import type { MetricsSnapshot } from '../types.js';
import { ErrorAlert } from './error-alert.js';
import { type ChartSeries, LiveChart } from './live-chart.js';

/** Ten minutes of 2-second samples. */
const WINDOW = 300;

const totalCalls = (m: MetricsSnapshot): number =>
  Object.values(m.tools ?? {}).reduce((sum, t) => sum + t.calls, 0);

const CALLS: ChartSeries[] = [{ label: 'tool calls/s', stroke: '#1d5fbf', fill: 'rgba(29,95,191,0.12)' }];
const LATENCY: ChartSeries[] = [{ label: 'p99 ms (slowest tool)', stroke: '#a4161a' }];
/** What the connections chart plots, by the frame's `connections` key. */
const CONNECTIONS: (ChartSeries & { key: string })[] = [
  { key: 'websockets', label: 'agent WebSockets', stroke: '#1d5fbf' },
  { key: 'mcp_sessions', label: 'MCP sessions', stroke: '#8a5a00', dash: [6, 4] },
  { key: 'dashboards', label: 'dashboards', stroke: '#2e7d32', dash: [2, 3] },
];

/** Appends one sample to aligned arrays, dropping the oldest beyond WINDOW. */
function push(data: number[][], values: number[]): void {
  values.forEach((v, i) => data[i]?.push(v));
  if ((data[0]?.length ?? 0) > WINDOW) for (const column of data) column.shift();
}

export function MetricsPage() {
  const [snapshot, setSnapshot] = useState<MetricsSnapshot | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const last = useRef<{ at: number; calls: number } | null>(null);
  const rate = useRef<number | null>(null);
  const calls = useRef<number[][]>([[], []]);
  const latency = useRef<number[][]>([[], []]);
  const connections = useRef<number[][]>([[], ...CONNECTIONS.map(() => [])]);

  useEffect(() => {
    api
      .get<{ metrics: MetricsSnapshot }>('metrics')
      .then(({ metrics: m }) => {
        setSnapshot(m);
        last.current = { at: Date.now() / 1000, calls: totalCalls(m) };
      })
      .catch((err: unknown) => setError(errorText(err)));
  }, []);

  useLiveFrames((frame) => {
    if (frame.type !== 'metrics') return;
    setSnapshot(frame);
    const now = Date.now() / 1000;
    const total = totalCalls(frame);
    const prev = last.current;
    if (prev && now > prev.at) {
      // A restart resets the counters: a negative difference is a new start, not negative traffic.
      const r = Math.round(Math.max(0, (total - prev.calls) / (now - prev.at)) * 100) / 100;
      rate.current = r;
      push(calls.current, [now, r]);
    }
    last.current = { at: now, calls: total };
    const p99 = frame.latency?.p99_ms;
    if (typeof p99 === 'number') push(latency.current, [now, p99]);
    push(connections.current, [now, ...CONNECTIONS.map((c) => frame.connections?.[c.key] ?? 0)]);
    setVersion((v) => v + 1);
  });

  const p99 = snapshot?.latency?.p99_ms;
  const latencyText =
    typeof p99 === 'number'
      ? `Now: ${p99} ms p99, slowest tool ${snapshot?.latency?.tool ?? 'unknown'}.`
      : 'No tool calls yet.';
  const conn = snapshot?.connections ?? {};
  const connectionsText = `Now: ${CONNECTIONS.map((c) => `${c.label} ${conn[c.key] ?? 0}`).join(', ')}.`;
  const callsText =
    rate.current === null ? 'Waiting for the second sample.' : `Now: ${rate.current} tool calls/s.`;

  const tools = Object.entries(snapshot?.tools ?? {}).sort((a, b) => b[1].calls - a[1].calls);
  return (
    <section aria-labelledby="metrics-title">
      <h1 id="metrics-title">Metrics</h1>
      <ErrorAlert error={error} />
      <h2>Tool calls per second</h2>
      <LiveChart
        id="chart-calls"
        label="Tool calls per second over the last two minutes"
        unit="calls/s"
        series={CALLS}
        data={calls.current}
        version={version}
        summary={callsText}
      />
      <div class="charts-small">
        <section aria-labelledby="latency-title">
          <h2 id="latency-title">Latency p99</h2>
          <LiveChart
            id="chart-latency"
            label="Latency p99 in milliseconds of the slowest tool over the last two minutes"
            unit="ms"
            series={LATENCY}
            data={latency.current}
            version={version}
            summary={latencyText}
            height={160}
          />
        </section>
        <section aria-labelledby="connections-title">
          <h2 id="connections-title">Connections</h2>
          <LiveChart
            id="chart-connections"
            label={`Open connections over the last two minutes: ${CONNECTIONS.map((c) => c.label).join(', ')}`}
            unit="open"
            series={CONNECTIONS}
            data={connections.current}
            version={version}
            summary={connectionsText}
            height={160}
          />
        </section>
      </div>
      {snapshot && (
        <dl class="facts">
          {Object.entries(snapshot.connections ?? {}).map(([k, v]) => (
            <div>
              <dt>{k.replace(/_/g, ' ')}</dt>
              <dd>{v}</dd>
            </div>
          ))}
          {snapshot.database && (
            <div>
              <dt>db queries (mean ms)</dt>
              <dd>
                {snapshot.database.queries} ({snapshot.database.mean_ms})
              </dd>
            </div>
          )}
          {snapshot.process && (
            <div>
              <dt>rss MB / uptime s</dt>
              <dd>
                {snapshot.process.rss_mb} / {snapshot.process.uptime_s}
              </dd>
            </div>
          )}
        </dl>
      )}
      <h2>Tools</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Tool</th>
              <th scope="col" class="num">
                Calls
              </th>
              <th scope="col" class="num">
                Errors
              </th>
              <th scope="col" class="num">
                p50 ms
              </th>
              <th scope="col" class="num">
                p99 ms
              </th>
            </tr>
          </thead>
          <tbody>
            {tools.map(([name, t]) => (
              <tr key={name}>
                <td>{name}</td>
                <td class="num">{t.calls}</td>
                <td class="num">{t.errors}</td>
                <td class="num">{t.p50_ms ?? '—'}</td>
                <td class="num">{t.p99_ms ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
