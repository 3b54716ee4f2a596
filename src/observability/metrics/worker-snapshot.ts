/**
 * The shapes of worker metrics snapshots, in one file: the free-form
 * {@link LabelledSnapshot} a worker sends over the wire (the runtime's wire
 * messages build on it), and the Prometheus-shaped
 * {@link WorkerSeriesSnapshot} the coordinator's hub merges. Both are plain
 * data (structured-clone and msgpack safe).
 *
 * Snapshots are CUMULATIVE: a worker always sends its totals since it
 * started, never deltas. The coordinator remembers the last snapshot of each
 * (workerId, generation) pair and adds the difference, so a lost or
 * duplicated message cannot skew the totals, a replaced worker's counts stay
 * counted, and its replacement (a new generation) starts from zero.
 */

/**
 * The free-form shape the runtime's `ctx.metrics` (`increment(name, by,
 * labels)` / `observe(name, value, labels)`) keeps in a worker: series
 * carry their own label objects and observations are count/sum pairs.
 */
export interface LabelledSnapshot {
  counters: ReadonlyArray<{ name: string; labels: Readonly<Record<string, string>>; value: number }>;
  summaries: ReadonlyArray<{ name: string; labels: Readonly<Record<string, string>>; count: number; sum: number }>;
  /** Updates dropped per metric name because it reached its label-set limit in this worker (cumulative). */
  dropped?: Readonly<Record<string, number>>;
}

/** One label combination of a counter. `labels` are values in `labelNames` order. */
export interface CounterSeriesSnapshot {
  labels: string[];
  value: number;
}

/** One label combination of a histogram: non-cumulative bucket counts, `+Inf` last. */
export interface HistogramSeriesSnapshot {
  labels: string[];
  counts: number[];
  sum: number;
  count: number;
}

export interface CounterSnapshot {
  kind: 'counter';
  name: string;
  help: string;
  labelNames: string[];
  series: CounterSeriesSnapshot[];
}

export interface HistogramSnapshot {
  kind: 'histogram';
  name: string;
  help: string;
  labelNames: string[];
  /** Upper bounds, strictly increasing; the `+Inf` bucket is implicit. */
  buckets: number[];
  series: HistogramSeriesSnapshot[];
}

export type MetricSnapshot = CounterSnapshot | HistogramSnapshot;

/**
 * One worker generation's metrics as Prometheus series: what
 * `MetricsHub.mergeWorkerSnapshot` merges. (The runtime's workers send the
 * free-form {@link LabelledSnapshot} over the wire; `fromLabelledSnapshot`
 * turns it into this.)
 */
export interface WorkerSeriesSnapshot {
  /** Which life of the worker this is; a replacement worker has a new generation. */
  generation: string;
  /**
   * Increases with every snapshot of one generation; older ones are skipped
   * whole. Optional: without it, per-series totals still only move forward.
   */
  seq?: number;
  metrics: MetricSnapshot[];
}

/** A metric the coordinator could not merge, and why; the rest of the snapshot is still merged. */
export interface MergeProblem {
  metric: string;
  message: string;
}
