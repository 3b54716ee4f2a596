import { Counter, type Registry } from 'prom-client';
import { BucketHistogram } from './bucket-histogram.js';
import { METRIC_PREFIX, PROMETHEUS_NAME } from './metric-names.js';
import type { MergeProblem, MetricSnapshot, WorkerMetricsSnapshot } from './worker-snapshot.js';

type Merged =
  | { kind: 'counter'; labelNames: string; metric: Counter<string>; labelKeys: string[] }
  | { kind: 'histogram'; labelNames: string; buckets: string; metric: BucketHistogram };

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
 * - a snapshot delivered twice, or an older one delivered late, adds nothing;
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
  merge(workerId: string | number, snapshot: WorkerMetricsSnapshot): MergeProblem[] {
    const key = `${workerId}${SEP}${snapshot.generation}`;
    if (this.#retired.has(key)) return [];
    let baseline = this.#baselines.get(key);
    if (baseline === undefined) {
      baseline = { seq: 0, counters: new Map(), histograms: new Map() };
      this.#baselines.set(key, baseline);
    }
    if (snapshot.seq <= baseline.seq) return [];
    baseline.seq = snapshot.seq;
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

  #resolve(metric: MetricSnapshot): Merged | string {
    const labelNames = metric.labelNames.join(',');
    const existing = this.#merged.get(metric.name);
    if (existing !== undefined) {
      if (existing.kind !== metric.kind || existing.labelNames !== labelNames) {
        return `declared as a ${metric.kind} with labels [${labelNames}] but already known as a ${existing.kind} with labels [${existing.labelNames}]`;
      }
      if (existing.kind === 'histogram' && metric.kind === 'histogram' && existing.buckets !== metric.buckets.join(',')) {
        return `histogram buckets [${metric.buckets.join(', ')}] differ from [${existing.buckets}] declared by another worker`;
      }
      return existing;
    }
    if (!PROMETHEUS_NAME.test(metric.name) || metric.name.startsWith(METRIC_PREFIX)) {
      return `"${metric.name}" is not a valid processor metric name (invalid, or uses the reserved prefix ${METRIC_PREFIX})`;
    }
    if (this.#registry.getSingleMetric(metric.name) !== undefined) {
      return `"${metric.name}" collides with a metric already registered in the coordinator`;
    }
    let merged: Merged;
    if (metric.kind === 'counter') {
      const counter = new Counter({ name: metric.name, help: metric.help, labelNames: metric.labelNames, registers: [this.#registry] });
      merged = { kind: 'counter', labelNames, metric: counter, labelKeys: [...metric.labelNames] };
    } else {
      const histogram = new BucketHistogram(metric.name, metric.help, metric.labelNames, metric.buckets);
      this.#registry.registerMetric(histogram as never);
      merged = { kind: 'histogram', labelNames, buckets: metric.buckets.join(','), metric: histogram };
    }
    this.#merged.set(metric.name, merged);
    return merged;
  }

  #mergeMetric(metric: MetricSnapshot, baseline: Baseline): string | undefined {
    const merged = this.#resolve(metric);
    if (typeof merged === 'string') return merged;
    if (merged.kind === 'counter' && metric.kind === 'counter') {
      for (const series of metric.series) {
        const seriesKey = `${metric.name}${SEP}${series.labels.join(SEP)}`;
        const before = baseline.counters.get(seriesKey) ?? 0;
        const delta = series.value - before;
        if (delta < 0) return `counter went down from ${before} to ${series.value} within one worker generation`;
        baseline.counters.set(seriesKey, series.value);
        if (delta === 0) continue;
        const labels: Record<string, string> = {};
        merged.labelKeys.forEach((label, i) => { labels[label] = series.labels[i] ?? ''; });
        merged.metric.inc(labels, delta);
      }
      return undefined;
    }
    if (merged.kind === 'histogram' && metric.kind === 'histogram') {
      for (const series of metric.series) {
        if (series.counts.length !== metric.buckets.length + 1) {
          return `histogram series has ${series.counts.length} bucket counts, expected ${metric.buckets.length + 1} (bounds plus +Inf)`;
        }
        const seriesKey = `${metric.name}${SEP}${series.labels.join(SEP)}`;
        const before = baseline.histograms.get(seriesKey);
        const counts = series.counts.map((c, i) => c - (before?.counts[i] ?? 0));
        if (counts.some((c) => c < 0) || series.count < (before?.count ?? 0)) {
          return 'histogram counts went down within one worker generation';
        }
        baseline.histograms.set(seriesKey, { counts: [...series.counts], sum: series.sum, count: series.count });
        merged.metric.add(merged.metric.series(series.labels), counts, series.sum - (before?.sum ?? 0), series.count - (before?.count ?? 0));
      }
    }
    return undefined;
  }
}
