import type { CounterSnapshot, HistogramSnapshot, MetricSnapshot, WorkerMetricsSnapshot } from './worker-snapshot.js';

/**
 * The free-form shape the runtime's `ctx.metrics` (`increment(name, by,
 * labels)` / `observe(name, value, labels)`) keeps in a worker: series
 * carry their own label objects and observations are count/sum pairs.
 * Declared structurally so this layer does not import the runtime.
 */
export interface LabelledSnapshot {
  counters: ReadonlyArray<{ name: string; labels: Readonly<Record<string, string>>; value: number }>;
  summaries: ReadonlyArray<{ name: string; labels: Readonly<Record<string, string>>; count: number; sum: number }>;
}

/**
 * Converts a {@link LabelledSnapshot} to the snapshot the hub merges.
 * `generation` must change whenever the worker's totals restart (a new
 * thread): the runtime's thread id does. Label names of a metric are the
 * union of the keys its series use (missing ones become `""`); summaries
 * become histograms with only the `+Inf` bucket, i.e. `_count` and `_sum`.
 *
 * @example
 * for (const s of await pool.metrics()) hub.mergeWorkerSnapshot(s.threadId, fromLabelledSnapshot(s, String(s.threadId)));
 */
export function fromLabelledSnapshot(snapshot: LabelledSnapshot, generation: string): WorkerMetricsSnapshot {
  const metrics: MetricSnapshot[] = [];
  for (const [name, series] of groupByName(snapshot.counters)) {
    const labelNames = labelNamesOf(series);
    const counter: CounterSnapshot = { kind: 'counter', name, help: `Processor metric ${name}.`, labelNames, series: [] };
    for (const s of series) counter.series.push({ labels: labelNames.map((l) => s.labels[l] ?? ''), value: s.value });
    metrics.push(counter);
  }
  for (const [name, series] of groupByName(snapshot.summaries)) {
    const labelNames = labelNamesOf(series);
    const histogram: HistogramSnapshot = { kind: 'histogram', name, help: `Processor metric ${name} (count and sum of observations).`, labelNames, buckets: [], series: [] };
    for (const s of series) histogram.series.push({ labels: labelNames.map((l) => s.labels[l] ?? ''), counts: [s.count], sum: s.sum, count: s.count });
    metrics.push(histogram);
  }
  return { generation, metrics };
}

function groupByName<T extends { name: string }>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.name);
    if (group === undefined) groups.set(item.name, [item]);
    else group.push(item);
  }
  return groups;
}

function labelNamesOf(series: ReadonlyArray<{ labels: Readonly<Record<string, string>> }>): string[] {
  const names = new Set<string>();
  for (const s of series) for (const key of Object.keys(s.labels)) names.add(key);
  return [...names].sort();
}
