/** Pure geometry for a session's timeline: one lane per sender, x by time, a few time ticks. */
import type { Message } from './types.js';

export interface TimelineScale {
  lanes: string[];
  /** x in [x0, x1] for a timestamp in ms. */
  x: (ms: number) => number;
  ticks: { x: number; label: string }[];
}

/** Senders in the order they first spoke, so lanes stay put as messages arrive. */
export function laneOrder(messages: readonly Message[]): string[] {
  const seen = new Set<string>();
  for (const m of messages) seen.add(m.sender);
  return [...seen];
}

export const timeOf = (m: Message): number => Date.parse(m.timestamp);

/** A time range in ms, [start, end], start < end. */
export type TimeRange = readonly [number, number];

/** The shortest range shown: one second (a zoom stops there). */
export const MIN_SPAN_MS = 1000;
/** The shortest range a zoom may reach. */
export const MIN_ZOOM_SPAN_MS = 20;

/**
 * The messages' time range, at least MIN_SPAN_MS long (a short one is centred in that second), so
 * a lone message or a burst sits in the middle rather than at the left edge.
 */
export function extentOf(messages: readonly Message[]): TimeRange {
  let lo = Infinity;
  let hi = -Infinity;
  for (const m of messages) {
    const t = timeOf(m);
    if (Number.isNaN(t)) continue;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  if (!Number.isFinite(lo)) lo = hi = Date.now();
  if (hi - lo < MIN_SPAN_MS) {
    const mid = (lo + hi) / 2;
    return [mid - MIN_SPAN_MS / 2, mid + MIN_SPAN_MS / 2];
  }
  return [lo, hi];
}

/**
 * `view` scaled by `factor` (below 1 zooms in) around the time `at`, then kept inside `extent`
 * (a range wider than the extent is the extent) and no shorter than MIN_ZOOM_SPAN_MS.
 */
export function zoomRange(view: TimeRange, extent: TimeRange, factor: number, at: number): TimeRange {
  const span = Math.min(extent[1] - extent[0], Math.max(MIN_ZOOM_SPAN_MS, (view[1] - view[0]) * factor));
  const start = at - ((at - view[0]) / (view[1] - view[0])) * span;
  return clampRange([start, start + span], extent);
}

/** `view` moved by `ms` (negative: earlier), kept inside `extent`. */
export const panRange = (view: TimeRange, extent: TimeRange, ms: number): TimeRange =>
  clampRange([view[0] + ms, view[1] + ms], extent);

function clampRange([start, end]: TimeRange, [lo, hi]: TimeRange): TimeRange {
  const span = Math.min(end - start, hi - lo);
  const from = Math.min(Math.max(start, lo), hi - span);
  return [from, from + span];
}

/**
 * A linear scale from the time range `range` to [x0, x1], with `tickCount` evenly spaced ticks
 * labelled as clock times (with the date when the range crosses days, milliseconds when it is
 * under two seconds).
 */
export function timeScale(
  messages: readonly Message[],
  x0: number,
  x1: number,
  range: TimeRange = extentOf(messages),
  tickCount = 5,
): TimelineScale {
  const [lo, hi] = range;
  const span = hi - lo;
  const x = (ms: number) => x0 + ((ms - lo) / span) * (x1 - x0);
  const manyDays = span > 86_400_000;
  const fine = span < 2_000;
  const ticks: { x: number; label: string }[] = Array.from({ length: tickCount }, (_, i) => {
    const ms = lo + (span * i) / (tickCount - 1);
    const d = new Date(ms);
    const label = manyDays
      ? d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
      : d.toLocaleTimeString(undefined, {
          hour: '2-digit',
          minute: '2-digit',
          second: '2-digit',
          ...(fine ? { fractionalSecondDigits: 3 } : {}),
        });
    return { x: x(ms), label };
  });
  // A short span repeats a label (the clock shows seconds): keep the first of each run.
  for (let i = ticks.length - 1; i > 0; i--) if (ticks[i]?.label === ticks[i - 1]?.label) ticks.splice(i, 1);
  return { lanes: laneOrder(messages), x, ticks };
}

/** Vertical offsets (px from the lane's middle) for marks that would cover each other. */
const SLOTS = [0, -12, 12];

/**
 * Spreads marks of one lane that are closer than `gap` px across SLOTS, so marks at the same
 * moment stay distinguishable (and clickable) at any zoom. `xs` must be sorted; answers an offset
 * per x. When every slot is taken, the one free soonest is reused.
 */
export function dodge(xs: readonly number[], gap: number): number[] {
  const lastX = SLOTS.map(() => -Infinity);
  return xs.map((x) => {
    let slot = lastX.findIndex((last) => x - last >= gap);
    if (slot < 0) slot = lastX.indexOf(Math.min(...lastX));
    lastX[slot] = x;
    return SLOTS[slot] ?? 0;
  });
}

export const VISIBILITY_COLORS: Record<string, string> = {
  public: '#1d5fbf',
  private: '#6a3d9a',
  agent_only: '#8a5a00',
  admin_only: '#a4161a',
};

export const visibilityColor = (v: string): string => VISIBILITY_COLORS[v] ?? '#444c56';
