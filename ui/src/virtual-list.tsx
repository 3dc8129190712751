/**
 * A virtualized list in its own scroll box: only the rows in view (plus a margin) are in the DOM, so a
 * session of 10,000 messages scrolls without freezing. Row heights are measured after render and
 * cached by key (markdown makes them vary); unmeasured rows count as `estimate`. The view keeps its
 * place when rows are added above it (older pages) or re-measured, and sticks to the bottom when the
 * reader is there (live messages).
 */
import type { ComponentChild } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';

interface Props<T> {
  items: readonly T[];
  keyOf: (item: T) => number;
  /** Renders one row: an <li> with `key` and a `data-key` attribute equal to keyOf(item). */
  render: (item: T) => ComponentChild;
  label: string;
  /** Called when the reader comes near the top (to page older rows in). */
  onNearTop?: () => void;
  /** A key to bring into view (then focused); a new request object each time. */
  reveal?: { key: number } | null;
  estimate?: number;
}

/** Pixels drawn beyond the view on each side. */
const MARGIN = 800;
/** Within this many pixels of the bottom counts as "at the bottom". */
const STICK = 48;

export function VirtualList<T>({ items, keyOf, render, label, onNearTop, reveal, estimate = 90 }: Props<T>) {
  const box = useRef<HTMLDivElement>(null);
  const list = useRef<HTMLOListElement>(null);
  const heights = useRef(new Map<number, number>());
  const atBottom = useRef(true);
  const anchor = useRef<{ key: number; delta: number } | null>(null);
  const [view, setView] = useState({ top: 0, height: 800 });
  const [measured, setMeasured] = useState(0);
  const gap = useRef(8);

  // offsets[i] is row i's top; offsets[n] the total height.
  const offsets = useMemo(() => {
    const out = new Float64Array(items.length + 1);
    for (let i = 0; i < items.length; i++) {
      out[i + 1] = out[i]! + (heights.current.get(keyOf(items[i]!)) ?? estimate) + gap.current;
    }
    return out;
    // `measured` changes when a height does.
  }, [items, measured, estimate, keyOf]);
  const indexOf = useMemo(() => new Map(items.map((it, i) => [keyOf(it), i])), [items, keyOf]);

  /** The first row whose bottom is below y. */
  const rowAt = (y: number): number => {
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offsets[mid + 1]! <= y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const start = rowAt(Math.max(0, view.top - MARGIN));
  const end = Math.min(items.length, rowAt(view.top + view.height + MARGIN) + 1);

  const remember = (el: HTMLDivElement) => {
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK;
    const i = rowAt(el.scrollTop);
    const it = items[i];
    anchor.current = it === undefined ? null : { key: keyOf(it), delta: offsets[i]! - el.scrollTop };
  };

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    remember(el);
    setView({ top: el.scrollTop, height: el.clientHeight });
    if (el.scrollTop < MARGIN) onNearTop?.();
  };

  // Measure the rendered rows; a changed height re-renders with new offsets.
  useLayoutEffect(() => {
    const ol = list.current;
    if (!ol) return;
    gap.current = Number.parseFloat(getComputedStyle(ol).rowGap) || 0;
    let changed = false;
    for (const child of Array.from(ol.children) as HTMLElement[]) {
      const key = Number(child.dataset.key);
      const h = child.offsetHeight;
      if (heights.current.get(key) !== h) {
        heights.current.set(key, h);
        changed = true;
      }
    }
    if (changed) setMeasured((n) => n + 1);
  });

  // At the bottom after every render when the reader was there: a render may shrink the content for
  // a moment (estimates replaced by measured rows), and the browser's clamp must not count as the
  // reader scrolling away.
  useLayoutEffect(() => {
    const el = box.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  });

  // Else keep the anchor row where it was when rows are added above it or re-measured.
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (atBottom.current) el.scrollTop = el.scrollHeight;
    else if (anchor.current) {
      const i = indexOf.get(anchor.current.key);
      if (i !== undefined) el.scrollTop = offsets[i]! - anchor.current.delta;
    }
    if (el.scrollTop !== view.top || el.clientHeight !== view.height)
      setView({ top: el.scrollTop, height: el.clientHeight });
  }, [offsets]);

  useEffect(() => {
    if (!reveal) return;
    const el = box.current;
    const i = indexOf.get(reveal.key);
    if (!el || i === undefined) return;
    el.scrollTop = Math.max(0, offsets[i]! - el.clientHeight / 3);
    remember(el);
    setView({ top: el.scrollTop, height: el.clientHeight });
    requestAnimationFrame(() => document.getElementById(`msg-${reveal.key}`)?.focus({ preventScroll: true }));
    // Only a new request moves the view.
  }, [reveal]);

  return (
    <div
      class="virtual-box"
      ref={box}
      onScroll={onScroll}
      tabIndex={0}
      role="region"
      aria-label={`${label} (scrollable)`}
    >
      <ol
        class="messages virtual-list"
        ref={list}
        aria-label={label}
        style={{
          paddingTop: `${offsets[start]!}px`,
          paddingBottom: `${Math.max(0, offsets[items.length]! - offsets[end]! - (end > start ? gap.current : 0))}px`,
        }}
      >
        {items.slice(start, end).map(render)}
      </ol>
    </div>
  );
}
