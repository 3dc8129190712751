/**
 * The few Prometheus metric kinds the server records (labelled counters and histograms, gauges read
 * when scraped) and their text exposition (format 0.0.4). Small on purpose: the server records on
 * every query and tool call from its first second, and prom-client, loaded for that, cost ~4 MB of an
 * idle process; it is now loaded only for the process figures at the first scrape (metrics.ts,
 * docs/memory.md).
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One metric's exposition: its HELP and TYPE lines and its samples. */
export interface Exposed {
  expose(): string;
}

type LabelValues<L extends string> = Readonly<Record<L, string>>;

const escapeLabel = (value: string): string =>
  value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');
const escapeHelp = (value: string): string => value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');

const formatNumber = (value: number): string =>
  value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : String(value);

/** `{a="x",b="y"}`, or nothing without labels. */
function labelText(pairs: ReadonlyArray<readonly [string, string]>): string {
  if (pairs.length === 0) return '';
  return `{${pairs.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(',')}}`;
}

const header = (name: string, help: string, type: string): string =>
  `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;

/** The series of a labelled metric, keyed by its label values in the metric's label order. */
class Series<L extends string, S> {
  private readonly byKey = new Map<string, { labels: LabelValues<L>; state: S }>();

  constructor(
    private readonly labelNames: readonly L[],
    private readonly create: () => S,
  ) {}

  of(labels: LabelValues<L>): S {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let entry = this.byKey.get(key);
    if (entry === undefined) {
      entry = { labels: { ...labels }, state: this.create() };
      this.byKey.set(key, entry);
    }
    return entry.state;
  }

  *entries(): Iterable<{ labels: LabelValues<L>; state: S }> {
    yield* this.byKey.values();
  }

  pairs(labels: LabelValues<L>): Array<[string, string]> {
    return this.labelNames.map((name) => [name, labels[name]]);
  }
}

export class Counter<L extends string> implements Exposed {
  private readonly series: Series<L, { value: number }>;

  constructor(
    readonly name: string,
    private readonly help: string,
    labelNames: readonly L[],
  ) {
    this.series = new Series(labelNames, () => ({ value: 0 }));
  }

  inc(labels: LabelValues<L>, by = 1): void {
    this.series.of(labels).value += by;
  }

  /** Every series with its value. */
  *values(): Iterable<{ labels: LabelValues<L>; value: number }> {
    for (const { labels, state } of this.series.entries()) yield { labels, value: state.value };
  }

  expose(): string {
    let text = header(this.name, this.help, 'counter');
    for (const { labels, state } of this.series.entries()) {
      text += `${this.name}${labelText(this.series.pairs(labels))} ${formatNumber(state.value)}\n`;
    }
    return text;
  }
}

interface HistogramState {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class Histogram<L extends string> implements Exposed {
  private readonly series: Series<L, HistogramState>;

  constructor(
    readonly name: string,
    private readonly help: string,
    labelNames: readonly L[],
    /** Upper bounds, ascending; a value equal to a bound falls in that bucket. */
    private readonly buckets: readonly number[],
  ) {
    this.series = new Series(labelNames, () => ({
      counts: new Float64Array(buckets.length + 1),
      sum: 0,
      count: 0,
    }));
  }

  observe(labels: LabelValues<L>, value: number): void {
    const state = this.series.of(labels);
    let bucket = 0;
    while (bucket < this.buckets.length && value > (this.buckets[bucket] as number)) bucket++;
    state.counts[bucket] = (state.counts[bucket] ?? 0) + 1;
    state.sum += value;
    state.count++;
  }

  /** Observations and their sum over every series. */
  totals(): { count: number; sum: number } {
    let count = 0;
    let sum = 0;
    for (const { state } of this.series.entries()) {
      count += state.count;
      sum += state.sum;
    }
    return { count, sum };
  }

  expose(): string {
    let text = header(this.name, this.help, 'histogram');
    for (const { labels, state } of this.series.entries()) {
      const pairs = this.series.pairs(labels);
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += state.counts[i] ?? 0;
        const le = formatNumber(this.buckets[i] ?? Infinity);
        text += `${this.name}_bucket${labelText([['le', le], ...pairs])} ${cumulative}\n`;
      }
      text += `${this.name}_sum${labelText(pairs)} ${formatNumber(state.sum)}\n`;
      text += `${this.name}_count${labelText(pairs)} ${state.count}\n`;
    }
    return text;
  }
}

/** A value read when scraped, from whoever owns it. */
export class Gauge implements Exposed {
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly read: () => number,
  ) {}

  expose(): string {
    return `${header(this.name, this.help, 'gauge')}${this.name} ${formatNumber(this.read())}\n`;
  }
}
