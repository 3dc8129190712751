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

/**
 * A linear time scale over the messages between x0 and x1, with `tickCount` evenly spaced ticks
 * labelled as clock times (with the date when the span crosses days). An empty or zero-length span
 * gets one second of room.
 */
export function timeScale(
  messages: readonly Message[],
  x0: number,
  x1: number,
  tickCount = 5,
): TimelineScale {
  let lo = Infinity;
  let hi = -Infinity;
  for (const m of messages) {
    const t = timeOf(m);
    if (Number.isNaN(t)) continue;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  if (!Number.isFinite(lo)) lo = hi = Date.now();
  if (hi - lo < 1000) hi = lo + 1000;
  const span = hi - lo;
  const x = (ms: number) => x0 + ((ms - lo) / span) * (x1 - x0);
  const manyDays = span > 86_400_000;
  const ticks: { x: number; label: string }[] = Array.from({ length: tickCount }, (_, i) => {
    const ms = lo + (span * i) / (tickCount - 1);
    const d = new Date(ms);
    const label = manyDays
      ? d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
      : d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    return { x: x(ms), label };
  });
  // A short span repeats a label (the clock shows seconds): keep the first of each run.
  for (let i = ticks.length - 1; i > 0; i--) if (ticks[i]?.label === ticks[i - 1]?.label) ticks.splice(i, 1);
  return { lanes: laneOrder(messages), x, ticks };
}

export const VISIBILITY_COLORS: Record<string, string> = {
  public: '#1d5fbf',
  private: '#6a3d9a',
  agent_only: '#8a5a00',
  admin_only: '#a4161a',
};

export const visibilityColor = (v: string): string => VISIBILITY_COLORS[v] ?? '#444c56';
