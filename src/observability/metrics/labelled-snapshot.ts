import type { CounterSnapshot, HistogramSnapshot, LabelledSnapshot, MetricSnapshot, WorkerSeriesSnapshot } from './worker-snapshot.js';

export type { LabelledSnapshot } from './worker-snapshot.js';

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
export function fromLabelledSnapshot(snapshot: LabelledSnapshot, generation: string): WorkerSeriesSnapshot {
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
