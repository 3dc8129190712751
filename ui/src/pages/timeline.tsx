/**
 * One session as swimlanes: a lane per sender, a mark per message placed by time and coloured by
 * visibility, a thin connector from a parent to its reply. The newest messages are read first, then
 * older pages up to MAX_MESSAGES. Marks take one tab stop (arrow keys move between them, in time
 * order); activating one shows its content in the side panel. Live `message` frames add marks.
 *
 * Zoom and pan: the buttons, + / - / 0 and Shift+arrows from the marks, Ctrl+wheel (zoom at the
 * pointer), Shift+wheel or a horizontal scroll, and dragging the background. Marks of one lane
 * closer than a mark's width are spread vertically, so marks at the same moment stay apart.
 */
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorText, formatTime } from '../format.js';
import { useLiveFrames, useReloadOnReconnect } from '../hooks.js';
import { renderMarkdown } from '../markdown.js';
import {
  dodge,
  extentOf,
  timeOf,
  timeScale,
  VISIBILITY_COLORS,
  visibilityColor,
} from '../timeline-layout.js';
import type { Message, MessagePage } from '../types.js';
import { ErrorAlert } from './error-alert.js';
import { useTimelineZoom, ZoomToolbar } from './timeline-zoom.js';

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
  // The SVG's width: its box's, measured before the first paint (null until then).
  const [measured, setMeasured] = useState<number | null>(null);
  const width = measured ?? MIN_WIDTH;
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
  // Measured in a layout effect, before the first paint, and only then drawn: the SVG used to be
  // drawn at a guessed width (960) until the observer's first report a frame later, so every mark
  // jumped once just after it appeared — and a click aimed at a mark then (a test's, a person's)
  // landed beside it. Later changes come from the observer: whole pixels, and only real ones.
  useLayoutEffect(() => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    const measure = () => {
      const next = Math.max(MIN_WIDTH, Math.floor(wrap.clientWidth));
      setMeasured((w) => (w !== null && Math.abs(w - next) < 2 ? w : next));
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(wrap);
    return () => observer.disconnect();
  }, []);
  useReloadOnReconnect(() => void load());
  useLiveFrames((frame) => {
    if (frame.type !== 'message' || frame.message.session_id !== id) return;
    const m = frame.message;
    setMessages((ms) => (ms.some((x) => x.id === m.id) ? ms : [...ms, m].sort(byId)));
  });

  const extent = useMemo(() => extentOf(messages), [messages]);
  const x0 = LABEL_W + MARK_R;
  const x1 = width - RIGHT;
  const chosen = messages.find((m) => m.id === selected) ?? null;
  // Zooms around the selected message when it is in view.
  const zoom = useTimelineZoom(extent, x0, x1, svgRef, () => (chosen ? timeOf(chosen) : undefined));
  const { view } = zoom;
  // A tick per ~150 px, so labels with milliseconds do not run into each other.
  const tickCount = Math.max(2, Math.min(8, Math.floor((x1 - x0) / 150) + 1));
  const scale = useMemo(
    () => timeScale(messages, x0, x1, view, tickCount),
    [messages, x0, x1, view[0], view[1], tickCount],
  );
  const placed = useMemo(() => {
    const laneOf = new Map(scale.lanes.map((s, i) => [s, i]));
    const at = new Map<number, { x: number; y: number; shown: boolean }>();
    const byLane = new Map<string, Message[]>();
    for (const m of messages) {
      const lane = byLane.get(m.sender);
      if (lane) lane.push(m);
      else byLane.set(m.sender, [m]);
    }
    for (const [sender, lane] of byLane) {
      lane.sort((a, b) => timeOf(a) - timeOf(b) || a.id - b.id);
      const xs = lane.map((m) => scale.x(timeOf(m)));
      const offsets = dodge(xs, 2 * MARK_R + 1);
      const mid = AXIS_H + (laneOf.get(sender) ?? 0) * LANE_H + LANE_H / 2;
      lane.forEach((m, i) => {
        const x = xs[i] ?? 0;
        at.set(m.id, { x, y: mid + (offsets[i] ?? 0), shown: x >= x0 - MARK_R && x <= x1 + MARK_R });
      });
    }
    return at;
  }, [messages, scale, x0, x1]);
  // Keyboard order: by time, then id.
  const order = useMemo(
    () => [...messages].sort((a, b) => timeOf(a) - timeOf(b) || a.id - b.id).map((m) => m.id),
    [messages],
  );
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
    if (next === undefined || ev.shiftKey) return;
    ev.preventDefault();
    setSelected(next);
    const m = messages.find((x) => x.id === next);
    if (m) zoom.reveal(timeOf(m));
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
      <div class="timeline-layout" onKeyDown={zoom.onKeys}>
        <div class="timeline-main">
          <ZoomToolbar zoom={zoom} />
          <div class="timeline-wrap" ref={wrapRef}>
            {messages.length > 0 && measured !== null && (
              <svg
                ref={svgRef}
                class={`timeline${zoom.zoomed ? ' zoomed' : ''}`}
                width={width}
                height={height}
                viewBox={`0 0 ${width} ${height}`}
                role="group"
                aria-label={`Messages by sender over time. Arrow keys move between messages; Enter shows one; + and - zoom, Shift with an arrow pans, 0 fits the whole session.`}
                data-lanes={scale.lanes.length}
                data-marks={messages.length}
                data-start={Math.round(view[0])}
                data-end={Math.round(view[1])}
                {...zoom.svgHandlers}
              >
                <defs>
                  <clipPath id="timeline-plot">
                    <rect x={LABEL_W} y={0} width={Math.max(0, width - LABEL_W)} height={height} />
                  </clipPath>
                </defs>
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
                <g class="timeline-replies" aria-hidden="true" clip-path="url(#timeline-plot)">
                  {messages.map((m) => {
                    const from = m.parent_message_id === null ? undefined : placed.get(m.parent_message_id);
                    const to = placed.get(m.id);
                    if (!from || !to) return null;
                    return <line key={m.id} data-reply={m.id} x1={from.x} y1={from.y} x2={to.x} y2={to.y} />;
                  })}
                </g>
                {messages.map((m) => {
                  const p = placed.get(m.id);
                  if (!p?.shown) return null;
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
