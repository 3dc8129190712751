/**
 * Zoom and pan of the timeline's time range: buttons, + / - / 0 and Shift+arrows (from anything
 * inside the timeline), Ctrl+wheel (zoom at the pointer), Shift+wheel or a horizontal scroll, and
 * dragging the background. `null` zoom is the whole session, which follows live marks.
 */
import type { RefObject } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { panRange, type TimeRange, zoomRange } from '../timeline-layout.js';

/** One zoom step: the range halves or doubles. */
const ZOOM_STEP = 2;
/** One pan step (Shift+arrow, the Earlier/Later buttons): a quarter of the range shown. */
const PAN_STEP = 0.25;

export interface TimelineZoom {
  /** The range shown. */
  view: TimeRange;
  extent: TimeRange;
  zoomed: boolean;
  /** Scales the range (below 1 zooms in) around `at`, or the anchor when in view, or the middle. */
  zoomBy(factor: number, at?: number): void;
  /** Moves the range by a fraction of its length (negative: earlier). */
  panBy(fraction: number): void;
  fit(): void;
  /** Pans so that the time `t` is in view (a keyboard move to a mark the zoom hides). */
  reveal(t: number): void;
  onKeys(ev: KeyboardEvent): void;
  svgHandlers: {
    onWheel(ev: WheelEvent): void;
    onPointerDown(ev: PointerEvent): void;
    onPointerMove(ev: PointerEvent): void;
    onPointerUp(): void;
    onPointerCancel(): void;
  };
}

/** The zoom state of a plot spanning x0..x1 px of `svgRef`; `anchor` is the selected time, if any. */
export function useTimelineZoom(
  extent: TimeRange,
  x0: number,
  x1: number,
  svgRef: RefObject<SVGSVGElement | null>,
  anchor: () => number | undefined,
): TimelineZoom {
  const [zoomed, setZoomed] = useState<TimeRange | null>(null);
  const drag = useRef<{ x: number; view: TimeRange; pointer: number } | null>(null);
  // A live mark may widen the extent: a zoomed range stays, kept inside it.
  const view: TimeRange = zoomed ? panRange(zoomed, extent, 0) : extent;
  const span = view[1] - view[0];
  const pxToMs = (px: number, range = span) => (px / (x1 - x0)) * range;

  const zoomBy = (factor: number, at?: number) => {
    const a = anchor();
    const centre = at ?? (a !== undefined && a >= view[0] && a <= view[1] ? a : (view[0] + view[1]) / 2);
    const next = zoomRange(view, extent, factor, centre);
    setZoomed(next[1] - next[0] >= extent[1] - extent[0] ? null : next);
  };
  const panBy = (fraction: number) => {
    if (zoomed) setZoomed(panRange(view, extent, span * fraction));
  };
  const fit = () => setZoomed(null);
  const timeAt = (clientX: number): number => {
    const box = svgRef.current?.getBoundingClientRect();
    const px = box ? clientX - box.left : (x0 + x1) / 2;
    return view[0] + pxToMs(Math.min(x1, Math.max(x0, px)) - x0);
  };
  const endDrag = () => {
    drag.current = null;
  };

  return {
    view,
    extent,
    zoomed: zoomed !== null,
    zoomBy,
    panBy,
    fit,
    reveal(t) {
      if (zoomed && (t < view[0] || t > view[1])) {
        setZoomed(panRange(view, extent, t - (view[0] + view[1]) / 2));
      }
    },
    onKeys(ev) {
      if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
      const act =
        ev.key === '+' || ev.key === '='
          ? () => zoomBy(1 / ZOOM_STEP)
          : ev.key === '-' || ev.key === '_'
            ? () => zoomBy(ZOOM_STEP)
            : ev.key === '0'
              ? fit
              : ev.shiftKey && ev.key === 'ArrowLeft'
                ? () => panBy(-PAN_STEP)
                : ev.shiftKey && ev.key === 'ArrowRight'
                  ? () => panBy(PAN_STEP)
                  : undefined;
      if (!act) return;
      ev.preventDefault();
      act();
    },
    svgHandlers: {
      onWheel(ev) {
        if (ev.ctrlKey || ev.metaKey) {
          ev.preventDefault();
          zoomBy(ev.deltaY < 0 ? 1 / ZOOM_STEP : ZOOM_STEP, timeAt(ev.clientX));
        } else if (zoomed && (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY))) {
          ev.preventDefault();
          setZoomed(panRange(view, extent, pxToMs(ev.deltaX === 0 ? ev.deltaY : ev.deltaX)));
        }
      },
      onPointerDown(ev) {
        // A mark is clicked, not dragged; the whole session needs no panning.
        const onMark = (ev.target as Element).classList.contains('timeline-mark');
        if (!zoomed || ev.button !== 0 || onMark) return;
        drag.current = { x: ev.clientX, view, pointer: ev.pointerId };
        (ev.currentTarget as Element).setPointerCapture(ev.pointerId);
      },
      onPointerMove(ev) {
        const d = drag.current;
        if (!d || d.pointer !== ev.pointerId) return;
        setZoomed(panRange(d.view, extent, pxToMs(d.x - ev.clientX, d.view[1] - d.view[0])));
      },
      onPointerUp: endDrag,
      onPointerCancel: endDrag,
    },
  };
}

/** The zoom buttons and the range shown, in words (a status: a pan or zoom is announced). */
export function ZoomToolbar({ zoom }: { zoom: TimelineZoom }) {
  const { view, extent, zoomed } = zoom;
  return (
    <p class="toolbar timeline-zoom">
      <button
        type="button"
        class="secondary"
        onClick={() => zoom.zoomBy(1 / ZOOM_STEP)}
        aria-keyshortcuts="+"
      >
        Zoom in
      </button>
      <button
        type="button"
        class="secondary"
        onClick={() => zoom.zoomBy(ZOOM_STEP)}
        disabled={!zoomed}
        aria-keyshortcuts="-"
      >
        Zoom out
      </button>
      <button
        type="button"
        class="secondary"
        onClick={() => zoom.panBy(-PAN_STEP)}
        disabled={!zoomed || view[0] <= extent[0]}
        aria-keyshortcuts="Shift+ArrowLeft"
      >
        Earlier
      </button>
      <button
        type="button"
        class="secondary"
        onClick={() => zoom.panBy(PAN_STEP)}
        disabled={!zoomed || view[1] >= extent[1]}
        aria-keyshortcuts="Shift+ArrowRight"
      >
        Later
      </button>
      <button type="button" class="secondary" onClick={zoom.fit} disabled={!zoomed} aria-keyshortcuts="0">
        Fit
      </button>
      <span class="timeline-range" role="status">
        {zoomed ? 'Zoomed to ' : 'Whole session: '}
        {rangeText(view)}
      </span>
    </p>
  );
}

/** A range as clock times, with milliseconds when it is short, and its length. */
function rangeText([start, end]: TimeRange): string {
  const span = end - start;
  const opts: Intl.DateTimeFormatOptions = {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    ...(span < 10_000 ? { fractionalSecondDigits: 3 } : {}),
  };
  const length = span < 10_000 ? `${Math.round(span)} ms` : `${Math.round(span / 1000)} s`;
  const at = (ms: number) => new Date(ms).toLocaleTimeString(undefined, opts);
  return `${at(start)} – ${at(end)} (${length})`;
}
