import type { Counter, Registry } from 'prom-client';
import { promClient } from './prom-client.js';
import { BucketHistogram } from './bucket-histogram.js';
import { METRIC_PREFIX, PROMETHEUS_LABEL, PROMETHEUS_NAME } from './metric-names.js';
import type { MergeProblem, MetricSnapshot, WorkerSeriesSnapshot } from './worker-snapshot.js';

type Merged =
  | { kind: 'counter'; labelKeys: string[]; metric: Counter<string> }
  | { kind: 'histogram'; labelKeys: string[]; buckets: string; metric: BucketHistogram };

/** Last cumulative values seen from one (worker, generation): `metric \0 labels` → value or bucket counts. */
interface Baseline {
  seq: number;
  counters: Map<string, number>;
  histograms: Map<string, { counts: number[]; sum: number; count: number }>;
}

const SEP = '\u0000';

/**
 * Turns cumulative worker snapshots into exact totals in a prom-client
 * registry. For each (worker, generation) it keeps the last totals it saw and
 * adds only the difference, so:
 * - a snapshot delivered twice, or an older one delivered late, adds nothing
 *   (per series the larger total wins, so this holds even without `seq`);
 * - a worker that dies keeps everything it reported (nothing is subtracted);
 * - its replacement is a new generation and starts from zero.
 */
export class SnapshotMerger {
  #registry: Registry;
  #merged = new Map<string, Merged>();
  #baselines = new Map<string, Baseline>();
  #retired = new Set<string>();

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  /** Merges one snapshot; returns what could not be merged (conflicting declarations, shrinking totals). */
  merge(workerId: string | number, snapshot: WorkerSeriesSnapshot): MergeProblem[] {
    const key = `${workerId}${SEP}${snapshot.generation}`;
    if (this.#retired.has(key)) return [];
    let baseline = this.#baselines.get(key);
    if (baseline === undefined) {
      baseline = { seq: 0, counters: new Map(), histograms: new Map() };
      this.#baselines.set(key, baseline);
    }
    if (snapshot.seq !== undefined) {
      if (snapshot.seq <= baseline.seq) return [];
      baseline.seq = snapshot.seq;
    }
    const problems: MergeProblem[] = [];
    for (const metric of snapshot.metrics) {
      const problem = this.#mergeMetric(metric, baseline);
      if (problem !== undefined) problems.push({ metric: metric.name, message: problem });
    }
    return problems;
  }

  /**
   * Forgets a worker generation for good: later snapshots from it are ignored.
   * Call it once its thread has exited (its last delivered snapshot is counted).
   */
  retire(workerId: string | number, generation: string): void {
    const key = `${workerId}${SEP}${generation}`;
    this.#baselines.delete(key);
    this.#retired.add(key);
  }

  /**
   * The merged metric for `metric`, plus where each of its label values sits
   * in an incoming series (-1: label not used by this worker, value "").
   * A worker may use a subset of the known label names; anything else is a
   * conflict, reported instead of merged.
   */
  #resolve(metric: MetricSnapshot): { merged: Merged; positions: number[] } | string {
    const existing = this.#merged.get(metric.name);
    if (existing !== undefined) {
      if (existing.kind !== metric.kind) return `declared as a ${metric.kind} but already known as a ${existing.kind}`;
      const unknown = metric.labelNames.filter((l) => !existing.labelKeys.includes(l));
      if (unknown.length > 0) {
        return `uses labels [${metric.labelNames.join(', ')}] but is already known with labels [${existing.labelKeys.join(', ')}]: use the same label names on every call`;
      }
      if (existing.kind === 'histogram' && metric.kind === 'histogram' && existing.buckets !== metric.buckets.join(',')) {
        return `histogram buckets [${metric.buckets.join(', ')}] differ from [${existing.buckets}] declared by another worker`;
      }
      return { merged: existing, positions: existing.labelKeys.map((l) => metric.labelNames.indexOf(l)) };
    }
    if (!PROMETHEUS_NAME.test(metric.name) || metric.name.startsWith(METRIC_PREFIX)) {
      return `"${metric.name}" is not a valid processor metric name (invalid, or uses the reserved prefix ${METRIC_PREFIX})`;
    }
    const badLabel = metric.labelNames.find((l) => !PROMETHEUS_LABEL.test(l) || l.startsWith('__') || l === 'le');
    if (badLabel !== undefined) return `label "${badLabel}" is not a valid Prometheus label name`;
    if (this.#registry.getSingleMetric(metric.name) !== undefined) {
      return `"${metric.name}" collides with a metric already registered in the coordinator`;
    }
    let merged: Merged;
    if (metric.kind === 'counter') {
      const counter = new (promClient().Counter)({ name: metric.name, help: metric.help, labelNames: metric.labelNames, registers: [this.#registry] });
      merged = { kind: 'counter', labelKeys: [...metric.labelNames], metric: counter };
    } else {
      const histogram = new BucketHistogram(metric.name, metric.help, metric.labelNames, metric.buckets);
      this.#registry.registerMetric(histogram as never);
      merged = { kind: 'histogram', labelKeys: [...metric.labelNames], buckets: metric.buckets.join(','), metric: histogram };
    }
    this.#merged.set(metric.name, merged);
    return { merged, positions: metric.labelNames.map((_, i) => i) };
  }

  #mergeMetric(metric: MetricSnapshot, baseline: Baseline): string | undefined {
    const resolved = this.#resolve(metric);
    if (typeof resolved === 'string') return resolved;
    const { merged, positions } = resolved;
    const fullLabels = (values: readonly string[]): string[] => positions.map((p) => (p < 0 ? '' : (values[p] ?? '')));
    if (merged.kind === 'counter' && metric.kind === 'counter') {
      for (const series of metric.series) {
        const values = fullLabels(series.labels);
        const seriesKey = `${metric.name}${SEP}${values.join(SEP)}`;
        const before = baseline.counters.get(seriesKey) ?? 0;
        const delta = series.value - before;
        // Totals only grow within a generation, so a smaller one is an older
        // snapshot that arrived late: it adds nothing (max, not last-write).
        if (delta <= 0) continue;
        baseline.counters.set(seriesKey, series.value);
        const labels: Record<string, string> = {};
        merged.labelKeys.forEach((label, i) => { labels[label] = values[i]!; });
        merged.metric.inc(labels, delta);
      }
      return undefined;
    }
    if (merged.kind === 'histogram' && metric.kind === 'histogram') {
      for (const series of metric.series) {
        if (series.counts.length !== metric.buckets.length + 1) {
          return `histogram series has ${series.counts.length} bucket counts, expected ${metric.buckets.length + 1} (bounds plus +Inf)`;
        }
        const values = fullLabels(series.labels);
        const seriesKey = `${metric.name}${SEP}${values.join(SEP)}`;
        const before = baseline.histograms.get(seriesKey);
        const counts = series.counts.map((c, i) => c - (before?.counts[i] ?? 0));
        if (counts.some((c) => c < 0) || series.count <= (before?.count ?? 0)) continue; // older or unchanged
        baseline.histograms.set(seriesKey, { counts: [...series.counts], sum: series.sum, count: series.count });
        merged.metric.add(merged.metric.series(values), counts, series.sum - (before?.sum ?? 0), series.count - (before?.count ?? 0));
      }
    }
    return undefined;
  }
}
