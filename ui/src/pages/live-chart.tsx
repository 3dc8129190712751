/**
 * A small live uPlot chart over a sliding two-minute window. The chart is an image with a name
 * (`label`); `summary` is its text alternative (the latest values), shown under it and tied to it
 * by aria-describedby. `data` is uPlot's aligned arrays ([times in s, ...one array per series]),
 * mutated by the owner, which bumps `version` to redraw.
 */
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartSeries {
  label: string;
  stroke: string;
  /** A dash pattern, so series differ by more than colour. */
  dash?: number[];
  fill?: string;
}

/** How much of the past the chart shows, in seconds. */
const SPAN_S = 120;
/** The box's padding (`.chart`), which the canvas must not overflow. */
const PADDING_PX = 16;

export function LiveChart(props: {
  id: string;
  label: string;
  unit: string;
  series: ChartSeries[];
  data: number[][];
  version: number;
  summary: string;
  height?: number;
}) {
  const { id, label, unit, series, data, version, summary, height = 220 } = props;
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const box = el.current;
    if (!box) return;
    const widthOf = () => Math.max(200, box.clientWidth - PADDING_PX);
    const chart = new uPlot(
      {
        width: widthOf(),
        height,
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.stroke,
            width: 2,
            dash: s.dash,
            fill: s.fill,
            points: { show: true, size: 5 },
          })),
        ],
        axes: [{}, { label: unit }],
        // A sliding window: a lone first point is drawn at the right edge, not stretched.
        scales: {
          x: {
            time: true,
            range: (_u, _min, max) => {
              const end = max ?? Date.now() / 1000;
              return [end - SPAN_S, end + 2];
            },
          },
          y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 0) * 1.2)] },
        },
      },
      data as uPlot.AlignedData,
      box,
    );
    plot.current = chart;
    // Only the width follows the box; the canvas is narrower than the box, so this cannot loop.
    let last = box.clientWidth;
    const observer = new ResizeObserver(() => {
      if (Math.abs(box.clientWidth - last) < 2) return;
      last = box.clientWidth;
      chart.setSize({ width: widthOf(), height });
    });
    observer.observe(box);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, []);

  // Before paint, so the drawn points and `data-points` never disagree.
  useLayoutEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [version]);

  const points = data[0]?.length ?? 0;
  return (
    <figure class="chart-figure">
      <div
        ref={el}
        id={id}
        class="chart"
        role="img"
        aria-label={label}
        aria-describedby={`${id}-now`}
        data-points={points > 0 ? points : undefined}
      />
      <figcaption id={`${id}-now`} class="chart-now">
        {summary}
      </figcaption>
    </figure>
  );
}
