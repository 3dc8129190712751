/**
 * Who talks to whom: agents on a circle, mail as arrows (width by count, replies in the label), for
 * all agents or one session's. Live: a `mail` frame re-reads the graph, debounced, so a burst of mail
 * costs one request. A table below says the same for screen readers and keyboard users.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorText } from '../format.js';
import { circleLayout, edgePath, edgeWidth, typeColors } from '../graph-layout.js';
import { useLiveFrames, useReloadOnReconnect } from '../hooks.js';
import type { SessionRow } from '../types.js';
import { ErrorAlert } from './error-alert.js';

interface Graph {
  nodes: { agent_id: string; agent_type: string }[];
  edges: { from: string; to: string; mail: number; replies: number }[];
}

const SIZE = 560;
const NODE_R = 18;
const MARGIN = 90;
const DEBOUNCE_MS = 1000;

export function GraphPage() {
  const [sessionId, setSessionId] = useState('');
  const [sessions, setSessions] = useState<SessionRow[]>([]);
  const [graph, setGraph] = useState<Graph | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [hovered, setHovered] = useState<string | null>(null);
  const [pinned, setPinned] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = useCallback(async () => {
    try {
      setGraph(await api.get<Graph>('graph', { session_id: sessionId }));
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  }, [sessionId]);

  useEffect(() => void load(), [load]);
  useEffect(() => {
    api
      .get<{ sessions: SessionRow[] }>('sessions', { limit: 200 })
      .then((r) => setSessions(r.sessions))
      .catch(() => {});
    return () => {
      if (timer.current !== null) clearTimeout(timer.current);
    };
  }, []);
  useReloadOnReconnect(() => void load());
  useLiveFrames((frame) => {
    if (frame.type !== 'mail' || timer.current !== null) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      void load();
    }, DEBOUNCE_MS);
  });

  const at = useMemo(() => circleLayout(graph?.nodes.map((n) => n.agent_id) ?? [], SIZE, MARGIN), [graph]);
  const focus = hovered ?? pinned;
  const colors = useMemo(() => typeColors(graph?.nodes.map((n) => n.agent_type) ?? []), [graph]);

  return (
    <section aria-labelledby="graph-title">
      <h1 id="graph-title">Who talks to whom</h1>
      <div class="toolbar">
        <label for="graph-session">Session</label>
        <select
          id="graph-session"
          value={sessionId}
          onChange={(e) => setSessionId((e.target as HTMLSelectElement).value)}
        >
          <option value="">All agents</option>
          {sessions.map((s) => (
            <option key={s.session_id} value={s.session_id}>
              {s.purpose || s.session_id}
            </option>
          ))}
        </select>
      </div>
      <ErrorAlert error={error} />
      {graph && graph.nodes.length === 0 && <p class="empty">No agents yet.</p>}
      {graph && graph.nodes.length > 0 && (
        <>
          <ul class="graph-legend" aria-label="Agent types">
            {[...colors].map(([t, color]) => (
              <li key={t}>
                <span class="graph-swatch" style={{ background: color }} aria-hidden="true" />
                {t}
              </li>
            ))}
          </ul>
          <div class="graph-wrap">
            <svg
              class="graph"
              viewBox={`0 0 ${SIZE} ${SIZE}`}
              role="group"
              aria-label={`Mail graph: ${graph.nodes.length} agents, ${graph.edges.length} edges. The table below lists the edges.`}
              data-nodes={graph.nodes.length}
              data-edges={graph.edges.length}
            >
              <defs>
                <marker
                  id="graph-arrow"
                  viewBox="0 0 10 10"
                  refX="9"
                  refY="5"
                  markerWidth="5"
                  markerHeight="5"
                  orient="auto-start-reverse"
                >
                  <path d="M0,0 L10,5 L0,10 z" fill="context-stroke" />
                </marker>
              </defs>
              {graph.edges.map((e) => {
                const a = at.get(e.from);
                const b = at.get(e.to);
                if (!a || !b || e.from === e.to) return null;
                const { d, label } = edgePath(a, b, NODE_R + 3);
                const lit = focus !== null && (e.from === focus || e.to === focus);
                const dim = focus !== null && !lit;
                return (
                  <g
                    key={`${e.from}>${e.to}`}
                    class={`graph-edge${lit ? ' lit' : ''}${dim ? ' dim' : ''}`}
                    data-from={e.from}
                    data-to={e.to}
                    data-mail={e.mail}
                    data-replies={e.replies}
                    aria-hidden="true"
                  >
                    <path d={d} stroke-width={edgeWidth(e.mail)} marker-end="url(#graph-arrow)" />
                    <text x={label.x} y={label.y}>
                      {e.mail}
                      {e.replies > 0 ? ` (${e.replies}↩)` : ''}
                    </text>
                  </g>
                );
              })}
              {graph.nodes.map((n) => {
                const p = at.get(n.agent_id);
                if (!p) return null;
                const sent = graph.edges.filter((e) => e.from === n.agent_id).length;
                const got = graph.edges.filter((e) => e.to === n.agent_id).length;
                return (
                  <g
                    key={n.agent_id}
                    class={`graph-node${focus === n.agent_id ? ' lit' : ''}`}
                    data-agent-id={n.agent_id}
                    transform={`translate(${p.x.toFixed(1)},${p.y.toFixed(1)})`}
                    tabindex={0}
                    role="button"
                    aria-pressed={pinned === n.agent_id}
                    aria-label={`${n.agent_id} (${n.agent_type}): mails ${sent} agents, mailed by ${got}`}
                    onMouseEnter={() => setHovered(n.agent_id)}
                    onMouseLeave={() => setHovered(null)}
                    onFocus={() => setHovered(n.agent_id)}
                    onBlur={() => setHovered(null)}
                    onClick={() => setPinned((x) => (x === n.agent_id ? null : n.agent_id))}
                    onKeyDown={(ev) => {
                      if (ev.key !== 'Enter' && ev.key !== ' ') return;
                      ev.preventDefault();
                      setPinned((x) => (x === n.agent_id ? null : n.agent_id));
                    }}
                  >
                    <circle r={NODE_R} fill={colors.get(n.agent_type)} />
                    <text y={NODE_R + 14} text-anchor="middle">
                      {n.agent_id}
                    </text>
                  </g>
                );
              })}
            </svg>
          </div>
          <h2 id="graph-edges-title">Mail between agents</h2>
          <div class="table-wrap">
            <table aria-labelledby="graph-edges-title" class="graph-table">
              <thead>
                <tr>
                  <th scope="col">From</th>
                  <th scope="col">To</th>
                  <th scope="col" class="num">
                    Mail
                  </th>
                  <th scope="col" class="num">
                    Replies
                  </th>
                </tr>
              </thead>
              <tbody>
                {graph.edges.length === 0 && (
                  <tr>
                    <td colSpan={4}>No mail yet.</td>
                  </tr>
                )}
                {graph.edges.map((e) => (
                  <tr key={`${e.from}>${e.to}`} data-from={e.from} data-to={e.to}>
                    <td>{e.from}</td>
                    <td>{e.to}</td>
                    <td class="num" data-col="mail">
                      {e.mail}
                    </td>
                    <td class="num" data-col="replies">
                      {e.replies}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
