/**
 * Live metrics from the `metrics` frames (every 2 s): tool calls per second as a uPlot chart, plus
 * the latest per-tool table. The first figures come from GET metrics.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { api } from '../api.js';
import { errorText } from '../format.js';
import { useLiveFrames } from '../hooks.js';
import type { MetricsSnapshot } from '../types.js';
import { ErrorAlert } from './error-alert.js';

/** Ten minutes of 2-second samples. */
const WINDOW = 300;

const totalCalls = (m: MetricsSnapshot): number =>
  Object.values(m.tools ?? {}).reduce((sum, t) => sum + t.calls, 0);

export function MetricsPage() {
  const [snapshot, setSnapshot] = useState<MetricsSnapshot | null>(null);
  const [error, setError] = useState<string | null>(null);
  const chartEl = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const series = useRef<{ t: number[]; rate: number[]; last: { at: number; calls: number } | null }>({
    t: [],
    rate: [],
    last: null,
  });

  useEffect(() => {
    api
      .get<{ metrics: MetricsSnapshot }>('metrics')
      .then(({ metrics: m }) => {
        setSnapshot(m);
        series.current.last = { at: Date.now() / 1000, calls: totalCalls(m) };
      })
      .catch((err: unknown) => setError(errorText(err)));
  }, []);

  useEffect(() => {
    const el = chartEl.current;
    if (!el) return;
    const plot = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: 220,
        series: [
          {},
          {
            label: 'tool calls/s',
            stroke: '#1d5fbf',
            width: 2,
            fill: 'rgba(29,95,191,0.12)',
            points: { show: true, size: 5 },
          },
        ],
        axes: [{}, { label: 'calls/s' }],
        // A sliding two-minute window: a lone first point is drawn at the right edge, not stretched.
        scales: {
          x: {
            time: true,
            range: (_u, _min, max) => {
              const end = max ?? Date.now() / 1000;
              return [end - 120, end + 2];
            },
          },
          y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 0) * 1.2)] },
        },
      },
      [[], []],
      el,
    );
    chart.current = plot;
    const resize = () => plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 });
    addEventListener('resize', resize);
    return () => {
      removeEventListener('resize', resize);
      plot.destroy();
      chart.current = null;
    };
  }, []);

  useLiveFrames((frame) => {
    if (frame.type !== 'metrics') return;
    setSnapshot(frame);
    const now = Date.now() / 1000;
    const calls = totalCalls(frame);
    const s = series.current;
    if (s.last && now > s.last.at) {
      // A restart resets the counters: a negative difference is a new start, not negative traffic.
      const rate = Math.max(0, (calls - s.last.calls) / (now - s.last.at));
      s.t.push(now);
      s.rate.push(Math.round(rate * 100) / 100);
      if (s.t.length > WINDOW) {
        s.t.shift();
        s.rate.shift();
      }
      chart.current?.setData([s.t, s.rate]);
      // How many points the chart holds, for a test (or a person with devtools) to read.
      if (chartEl.current) chartEl.current.dataset.points = String(s.t.length);
    }
    s.last = { at: now, calls };
  });

  const tools = Object.entries(snapshot?.tools ?? {}).sort((a, b) => b[1].calls - a[1].calls);
  return (
    <section aria-labelledby="metrics-title">
      <h1 id="metrics-title">Metrics</h1>
      <ErrorAlert error={error} />
      <h2>Tool calls per second</h2>
      <div ref={chartEl} class="chart" role="img" aria-label="Tool calls per second over the last minutes" />
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
