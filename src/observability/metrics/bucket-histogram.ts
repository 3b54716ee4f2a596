/** One exposition line as prom-client's registry reads it. */
export interface ExposedValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/** The shape prom-client's registry reads from a metric's `get()`. */
export interface ExposedMetric {
  name: string;
  help: string;
  type: 'histogram';
  values: ExposedValue[];
  aggregator: 'sum';
}

/** One label combination of a {@link BucketHistogram}: plain numbers, cheap to update. */
export interface HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  /** Non-cumulative count per bucket; the last slot is the `+Inf` bucket. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram that prom-client's `Registry` can expose, written
 * here for two reasons prom-client's own `Histogram` cannot serve:
 *
 * - worker snapshots arrive as bucket counts, and merging them needs
 *   "add these counts", which prom-client's histogram has no API for;
 * - the hot path observes many values for one label set at once; resolving
 *   the series once per batch (instead of hashing labels per value) keeps
 *   the overhead of metrics within budget.
 *
 * It implements the duck-typed metric interface the registry reads
 * (`name`, `help`, `type`, `get()`, `reset()`).
 */
export class BucketHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly labelNames: readonly string[];
  readonly bounds: readonly number[];
  #series = new Map<string, HistogramSeries>();

  constructor(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new RangeError(`histogram ${name}: bucket bounds must increase strictly (got ${bounds.join(', ')})`);
    }
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.bounds = bounds;
  }

  /** The series for these label values (in `labelNames` order), created on first use. */
  series(labelValues: readonly string[]): HistogramSeries {
    const key = labelValues.length === 1 ? labelValues[0]! : labelValues.join('\u0000');
    let found = this.#series.get(key);
    if (found === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((label, i) => { labels[label] = labelValues[i] ?? ''; });
      found = { labels, counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.#series.set(key, found);
    }
    return found;
  }

  /** True when a series for these label values exists. */
  hasSeries(labelValues: readonly string[]): boolean {
    return this.#series.has(labelValues.length === 1 ? labelValues[0]! : labelValues.join('\u0000'));
  }

  /** Series created so far. */
  get seriesCount(): number {
    return this.#series.size;
  }

  /** Records one value into a series. Non-finite values are ignored: one bad timing must not poison the sum. */
  observe(series: HistogramSeries, value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  /** Adds already-bucketed counts (same bounds) to a series: how worker snapshots are merged. */
  add(series: HistogramSeries, counts: readonly number[], sum: number, count: number): void {
    for (let i = 0; i < series.counts.length; i++) series.counts[i]! += counts[i] ?? 0;
    series.sum += sum;
    series.count += count;
  }

  /** Every series created so far (read-only use: the dashboard copies their counts). */
  allSeries(): IterableIterator<HistogramSeries> {
    return this.#series.values();
  }

  reset(): void {
    this.#series.clear();
  }

  /** What prom-client's registry renders: cumulative `_bucket` lines, then `_sum` and `_count`. */
  async get(): Promise<ExposedMetric> {
    const values: ExposedValue[] = [];
    for (const series of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += series.counts[i]!;
        const le = i < this.bounds.length ? this.bounds[i]! : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...series.labels, le }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { ...series.labels }, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...series.labels }, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
