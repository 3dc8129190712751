/**
 * One session as swimlanes: a lane per sender, a mark per message placed by time and coloured by
 * visibility, a thin connector from a parent to its reply. The newest messages are read first, then
 * older pages up to MAX_MESSAGES. Marks take one tab stop (arrow keys move between them, in time
 * order); activating one shows its content in the side panel. Live `message` frames add marks.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorText, formatTime } from '../format.js';
import { useLiveFrames, useReloadOnReconnect } from '../hooks.js';
import { renderMarkdown } from '../markdown.js';
import { timeOf, timeScale, VISIBILITY_COLORS, visibilityColor } from '../timeline-layout.js';
import type { Message, MessagePage } from '../types.js';
import { ErrorAlert } from './error-alert.js';

const PAGE = 500;
const MAX_MESSAGES = 2000;
const LABEL_W = 150;
/** The SVG takes its box's width (measured), but never less than this. */
const MIN_WIDTH = 480;
const RIGHT = 20;
const LANE_H = 40;
const AXIS_H = 32;
const MARK_R = 6;

const byId = (a: Message, b: Message) => a.id - b.id;

export function TimelinePage({ id }: { id: string }) {
  const [messages, setMessages] = useState<Message[]>([]);
  const [truncated, setTruncated] = useState(false);
  const [selected, setSelected] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const svgRef = useRef<SVGSVGElement>(null);
  const wrapRef = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(960);
  const path = `sessions/${encodeURIComponent(id)}`;

  const load = useCallback(async () => {
    try {
      const all = new Map<number, Message>();
      let before: number | undefined;
      let more = true;
      while (more && all.size < MAX_MESSAGES) {
        const page = await api.get<MessagePage>(`${path}/messages`, { limit: PAGE, before_id: before });
        for (const m of page.messages) all.set(m.id, m);
        more = page.has_more && page.messages.length > 0;
        before = page.messages.reduce((lo, m) => Math.min(lo, m.id), before ?? Number.MAX_SAFE_INTEGER);
      }
      setMessages([...all.values()].sort(byId));
      setTruncated(more);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setLoading(false);
    }
  }, [path]);

  useEffect(() => void load(), [load]);
  useEffect(() => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    // Whole pixels, and only real changes: sub-pixel jitter must not re-lay the marks out.
    const observer = new ResizeObserver(() => {
      const next = Math.max(MIN_WIDTH, Math.floor(wrap.clientWidth));
      setWidth((w) => (Math.abs(w - next) < 2 ? w : next));
    });
    observer.observe(wrap);
    return () => observer.disconnect();
  }, []);
  useReloadOnReconnect(() => void load());
  useLiveFrames((frame) => {
    if (frame.type !== 'message' || frame.message.session_id !== id) return;
    const m = frame.message;
    setMessages((ms) => (ms.some((x) => x.id === m.id) ? ms : [...ms, m].sort(byId)));
  });

  const scale = useMemo(() => timeScale(messages, LABEL_W + MARK_R, width - RIGHT), [messages, width]);
  const placed = useMemo(() => {
    const laneOf = new Map(scale.lanes.map((s, i) => [s, i]));
    const at = new Map<number, { x: number; y: number }>();
    for (const m of messages)
      at.set(m.id, { x: scale.x(timeOf(m)), y: AXIS_H + (laneOf.get(m.sender) ?? 0) * LANE_H + LANE_H / 2 });
    return at;
  }, [messages, scale]);
  // Keyboard order: by time, then id.
  const order = useMemo(
    () => [...messages].sort((a, b) => timeOf(a) - timeOf(b) || a.id - b.id).map((m) => m.id),
    [messages],
  );
  const chosen = messages.find((m) => m.id === selected) ?? null;
  const tabStop = selected ?? order[order.length - 1];
  const height = AXIS_H + scale.lanes.length * LANE_H + 8;

  const move = (ev: KeyboardEvent, mid: number) => {
    const i = order.indexOf(mid);
    const next =
      ev.key === 'ArrowRight' || ev.key === 'ArrowDown'
        ? order[i + 1]
        : ev.key === 'ArrowLeft' || ev.key === 'ArrowUp'
          ? order[i - 1]
          : ev.key === 'Home'
            ? order[0]
            : ev.key === 'End'
              ? order[order.length - 1]
              : undefined;
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      setSelected(mid);
      return;
    }
    if (next === undefined) return;
    ev.preventDefault();
    setSelected(next);
    requestAnimationFrame(() =>
      svgRef.current?.querySelector<SVGElement>(`[data-message-id="${next}"]`)?.focus(),
    );
  };

  return (
    <section aria-labelledby="timeline-title">
      <p>
        <a href={`#/sessions/${encodeURIComponent(id)}`}>← Back to the session</a>
      </p>
      <h1 id="timeline-title">Timeline</h1>
      <p class="sub">
        <code>{id}</code> · {messages.length} messages · {scale.lanes.length} senders
        {truncated ? ` · the newest ${messages.length} only` : ''}
      </p>
      <ErrorAlert error={error} />
      {loading && <p class="loading">Loading messages…</p>}
      {!loading && messages.length === 0 && !error && <p class="empty">No messages yet.</p>}
      <ul class="graph-legend" aria-label="Visibility colours">
        {Object.entries(VISIBILITY_COLORS).map(([v, c]) => (
          <li key={v}>
            <span class="graph-swatch" style={{ background: c }} aria-hidden="true" />
            {v}
          </li>
        ))}
      </ul>
      <div class="timeline-layout">
        <div class="timeline-wrap" ref={wrapRef}>
          {messages.length > 0 && (
            <svg
              ref={svgRef}
              class="timeline"
              width={width}
              height={height}
              viewBox={`0 0 ${width} ${height}`}
              role="group"
              aria-label={`Messages by sender over time. Arrow keys move between messages; Enter shows one.`}
              data-lanes={scale.lanes.length}
              data-marks={messages.length}
            >
              <g class="timeline-axis" aria-hidden="true">
                {scale.ticks.map((t, i) => (
                  <g key={i}>
                    <line x1={t.x} x2={t.x} y1={AXIS_H - 6} y2={height - 8} />
                    <text
                      x={t.x}
                      y={AXIS_H - 12}
                      text-anchor={i === 0 ? 'start' : i === scale.ticks.length - 1 ? 'end' : 'middle'}
                    >
                      {t.label}
                    </text>
                  </g>
                ))}
              </g>
              {scale.lanes.map((sender, i) => (
                <g key={sender} class="timeline-lane" data-lane={sender} aria-hidden="true">
                  <rect x={0} y={AXIS_H + i * LANE_H} width={width} height={LANE_H} />
                  <text x={8} y={AXIS_H + i * LANE_H + LANE_H / 2 + 5}>
                    {sender.length > 18 ? `${sender.slice(0, 17)}…` : sender}
                    <title>{sender}</title>
                  </text>
                </g>
              ))}
              <g class="timeline-replies" aria-hidden="true">
                {messages.map((m) => {
                  const from = m.parent_message_id === null ? undefined : placed.get(m.parent_message_id);
                  const to = placed.get(m.id);
                  if (!from || !to) return null;
                  return <line key={m.id} data-reply={m.id} x1={from.x} y1={from.y} x2={to.x} y2={to.y} />;
                })}
              </g>
              {messages.map((m) => {
                const p = placed.get(m.id);
                if (!p) return null;
                return (
                  <circle
                    key={m.id}
                    class={`timeline-mark${m.id === selected ? ' selected' : ''}`}
                    data-message-id={m.id}
                    data-sender={m.sender}
                    cx={p.x}
                    cy={p.y}
                    r={MARK_R}
                    fill={visibilityColor(m.visibility)}
                    tabindex={m.id === tabStop ? 0 : -1}
                    role="button"
                    aria-pressed={m.id === selected}
                    aria-label={`Message ${m.id} from ${m.sender}, ${m.visibility}, ${formatTime(m.timestamp)}`}
                    onClick={() => setSelected(m.id)}
                    onKeyDown={(ev) => move(ev, m.id)}
                  />
                );
              })}
            </svg>
          )}
        </div>
        <aside class="timeline-panel" aria-labelledby="timeline-panel-title" aria-live="polite">
          <h2 id="timeline-panel-title">
            {chosen ? `Message ${chosen.id} from ${chosen.sender}` : 'Select a message'}
          </h2>
          {chosen && <Detail message={chosen} onJump={setSelected} />}
        </aside>
      </div>
    </section>
  );
}

function Detail({ message: m, onJump }: { message: Message; onJump: (id: number) => void }) {
  const html = useMemo(() => renderMarkdown(m.content), [m.content]);
  return (
    <div class="timeline-detail" data-message-id={m.id}>
      <p class="meta-line">
        <span class={`badge vis-${m.visibility}`}>{m.visibility}</span>{' '}
        <span class="badge">{m.sender_type}</span>{' '}
        <time dateTime={m.timestamp}>{formatTime(m.timestamp)}</time>
      </p>
      {m.parent_message_id !== null && (
        <button type="button" class="link" onClick={() => onJump(m.parent_message_id!)}>
          ↳ in reply to #{m.parent_message_id}
        </button>
      )}
      <div class="content" dangerouslySetInnerHTML={{ __html: html }} />
    </div>
  );
}
