import type { Counter, Registry } from 'prom-client';
import { promClient } from './prom-client.js';
import { BucketHistogram } from './bucket-histogram.js';
import { METRIC_PREFIX, PROMETHEUS_LABEL, PROMETHEUS_NAME } from './metric-names.js';
import type { MergeProblem, MetricSnapshot, WorkerSeriesSnapshot } from './worker-snapshot.js';
import { RecentSet } from '../../util/recent-set.js';

type Merged =
  | { kind: 'counter'; labelKeys: string[]; metric: Counter<string>; help: string; totals: Map<string, { values: string[]; value: number }> }
  | { kind: 'histogram'; labelKeys: string[]; buckets: string; metric: BucketHistogram };

/**
 * Label names one merged metric may have, over every worker: the workers'
 * own limit per metric (runtime/worker/processor-metrics.ts,
 * MAX_LABELS_PER_METRIC; test/observability checks they agree).
 */
export const MAX_MERGED_LABEL_NAMES = 16;

/**
 * Processor metric names the coordinator keeps, over every worker and every
 * generation of each (a worker keeps at most 256, but a replacement thread
 * starts a new count). A snapshot's new names past it are reported under
 * {@link OTHER_MERGED_NAMES} and not merged.
 */
export const MAX_MERGED_METRIC_NAMES = 1_000;
/** Label sets one merged metric keeps, over every worker and generation; further ones are reported, not merged. */
export const MAX_MERGED_SERIES_PER_METRIC = 10_000;
/** Label sets the coordinator keeps over all processor metrics (the registry's size). */
export const MAX_MERGED_SERIES = 100_000;
/** The `metric` of the problem a name past {@link MAX_MERGED_METRIC_NAMES} is reported under (one entry, whatever the names). */
export const OTHER_MERGED_NAMES = '(other names)';

/**
 * Last cumulative values seen from one (worker, generation): per metric
 * name, label values (joined by \0) → value or bucket counts. Kept per
 * name so that widening a metric re-keys that metric's series only.
 */
interface Baseline {
  seq: number;
  counters: Map<string, Map<string, number>>;
  histograms: Map<string, Map<string, { counts: number[]; sum: number; count: number }>>;
}

/** The entry of `name` in `map`, made if missing. */
function perName<V>(map: Map<string, Map<string, V>>, name: string): Map<string, V> {
  let found = map.get(name);
  if (found === undefined) { found = new Map(); map.set(name, found); }
  return found;
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
  /** Generations retired lately (a thread id is never reused, so only a late snapshot of a recent one can still come). */
  #retired = new RecentSet<string>();
  /** Label sets merged so far, over all metrics (see MAX_MERGED_SERIES). */
  #seriesTotal = 0;

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
      if (!this.#merged.has(metric.name) && this.#merged.size >= MAX_MERGED_METRIC_NAMES) {
        if (!problems.some((p) => p.metric === OTHER_MERGED_NAMES)) {
          problems.push({ metric: OTHER_MERGED_NAMES, message: `more than ${MAX_MERGED_METRIC_NAMES.toLocaleString('en-US')} processor metric names over all worker threads: ` +
            `"${metric.name}" and any further new name are not merged; build metric names from a fixed set, not from record data` });
        }
        continue;
      }
      const problem = this.#mergeMetric(metric, baseline);
      if (problem !== undefined) problems.push({ metric: metric.name, message: problem });
    }
    return problems;
  }

  /** Worker generations whose last totals are kept (each a baseline of every series it sent). */
  get generations(): number {
    return this.#baselines.size;
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
   * A worker may use a subset of the known label names, or bring new ones:
   * the metric is then widened (its series so far get "" for them), up to
   * {@link MAX_MERGED_LABEL_NAMES} names. Label names grow as records bring
   * them (a label only some records set), so which snapshot brings one first
   * depends on timing; widening keeps the result independent of it. Anything
   * else is a conflict, reported instead of merged.
   */
  #resolve(metric: MetricSnapshot): { merged: Merged; positions: number[] } | string {
    let existing = this.#merged.get(metric.name);
    if (existing !== undefined) {
      if (existing.kind !== metric.kind) return `declared as a ${metric.kind} but already known as a ${existing.kind}`;
      if (existing.kind === 'histogram' && metric.kind === 'histogram' && existing.buckets !== metric.buckets.join(',')) {
        return `histogram buckets [${metric.buckets.join(', ')}] differ from [${existing.buckets}] declared by another worker`;
      }
      const known = existing.labelKeys;
      const added = metric.labelNames.filter((l) => !known.includes(l));
      if (added.length > 0) {
        if (known.length + added.length > MAX_MERGED_LABEL_NAMES) {
          return `uses labels [${metric.labelNames.join(', ')}] but is already known with labels [${known.join(', ')}]: ` +
            `together more than ${MAX_MERGED_LABEL_NAMES} label names; use the same few label names on every call`;
        }
        const badLabel = added.find((l) => !PROMETHEUS_LABEL.test(l) || l.startsWith('__') || l === 'le');
        if (badLabel !== undefined) return `label "${badLabel}" is not a valid Prometheus label name`;
        existing = this.#widen(metric.name, existing, added);
      }
      const keys = existing.labelKeys;
      return { merged: existing, positions: keys.map((l) => metric.labelNames.indexOf(l)) };
    }
    if (!PROMETHEUS_NAME.test(metric.name) || metric.name.startsWith(METRIC_PREFIX)) {
      return `"${metric.name}" is not a valid processor metric name (invalid, or uses the reserved prefix ${METRIC_PREFIX})`;
    }
    if (metric.labelNames.length > MAX_MERGED_LABEL_NAMES) return `uses ${metric.labelNames.length} label names, more than ${MAX_MERGED_LABEL_NAMES}`;
    const badLabel = metric.labelNames.find((l) => !PROMETHEUS_LABEL.test(l) || l.startsWith('__') || l === 'le');
    if (badLabel !== undefined) return `label "${badLabel}" is not a valid Prometheus label name`;
    if (this.#registry.getSingleMetric(metric.name) !== undefined) {
      return `"${metric.name}" collides with a metric already registered in the coordinator`;
    }
    let merged: Merged;
    if (metric.kind === 'counter') {
      const counter = new (promClient().Counter)({ name: metric.name, help: metric.help, labelNames: metric.labelNames, registers: [this.#registry] });
      merged = { kind: 'counter', labelKeys: [...metric.labelNames], metric: counter, help: metric.help, totals: new Map() };
    } else {
      const histogram = new BucketHistogram(metric.name, metric.help, metric.labelNames, metric.buckets);
      this.#registry.registerMetric(histogram as never);
      merged = { kind: 'histogram', labelKeys: [...metric.labelNames], buckets: metric.buckets.join(','), metric: histogram };
    }
    this.#merged.set(metric.name, merged);
    return { merged, positions: metric.labelNames.map((_, i) => i) };
  }

  /**
   * `existing` with label names `added` after its own: a new registered
   * metric holding every series so far (with "" for the added labels), and
   * the baselines of every worker re-keyed to match. Bounded: a metric widens
   * at most {@link MAX_MERGED_LABEL_NAMES} times.
   */
  #widen(name: string, existing: Merged, added: string[]): Merged {
    const labelKeys = [...existing.labelKeys, ...added];
    const pad = added.map(() => '');
    this.#registry.removeSingleMetric(name);
    let merged: Merged;
    if (existing.kind === 'counter') {
      const counter = new (promClient().Counter)({ name, help: existing.help, labelNames: labelKeys, registers: [this.#registry] });
      const totals = new Map<string, { values: string[]; value: number }>();
      for (const total of existing.totals.values()) {
        const values = [...total.values, ...pad];
        totals.set(values.join(SEP), { values, value: total.value });
        counter.inc(labelsOf(labelKeys, values), total.value);
      }
      merged = { kind: 'counter', labelKeys, metric: counter, help: existing.help, totals };
    } else {
      const histogram = new BucketHistogram(name, existing.metric.help, labelKeys, existing.metric.bounds);
      for (const series of existing.metric.allSeries()) {
        const values = [...existing.labelKeys.map((l) => series.labels[l] ?? ''), ...pad];
        histogram.add(histogram.series(values), series.counts, series.sum, series.count);
      }
      this.#registry.registerMetric(histogram as never);
      merged = { ...existing, labelKeys, metric: histogram };
    }
    // A series' baseline key is its values joined by \0, and the added labels append one "" value each:
    // k values have k - 1 separators, so a metric that had no label (key "") gets one separator fewer.
    const rekey = existing.labelKeys.length === 0 ? () => SEP.repeat(added.length - 1) : (key: string) => key + SEP.repeat(added.length);
    for (const baseline of this.#baselines.values()) {
      for (const byName of [baseline.counters, baseline.histograms] as Array<Map<string, Map<string, unknown>>>) {
        const series = byName.get(name);
        if (series === undefined) continue;
        const rekeyed = new Map<string, unknown>();
        for (const [key, value] of series) rekeyed.set(rekey(key), value);
        byName.set(name, rekeyed);
      }
    }
    this.#merged.set(name, merged);
    return merged;
  }

  /** True when a metric with `series` label sets may take one more. */
  #room(series: number): boolean {
    return series < MAX_MERGED_SERIES_PER_METRIC && this.#seriesTotal < MAX_MERGED_SERIES;
  }

  #mergeMetric(metric: MetricSnapshot, baseline: Baseline): string | undefined {
    const resolved = this.#resolve(metric);
    if (typeof resolved === 'string') return resolved;
    const { merged, positions } = resolved;
    const fullLabels = (values: readonly string[]): string[] => positions.map((p) => (p < 0 ? '' : (values[p] ?? '')));
    if (merged.kind === 'counter' && metric.kind === 'counter') {
      const seen = perName(baseline.counters, metric.name);
      let refused = 0;
      for (const series of metric.series) {
        const values = fullLabels(series.labels);
        const seriesKey = values.join(SEP);
        const before = seen.get(seriesKey) ?? 0;
        const delta = series.value - before;
        // Totals only grow within a generation, so a smaller one is an older
        // snapshot that arrived late: it adds nothing (max, not last-write).
        if (delta <= 0) continue;
        const total = merged.totals.get(seriesKey);
        if (total === undefined && !this.#room(merged.totals.size)) { refused += 1; continue; }
        seen.set(seriesKey, series.value);
        if (total === undefined) { merged.totals.set(seriesKey, { values, value: delta }); this.#seriesTotal += 1; }
        else total.value += delta;
        merged.metric.inc(labelsOf(merged.labelKeys, values), delta);
      }
      return refused === 0 ? undefined : tooManySeries(refused);
    }
    if (merged.kind === 'histogram' && metric.kind === 'histogram') {
      const seen = perName(baseline.histograms, metric.name);
      let refused = 0;
      for (const series of metric.series) {
        if (series.counts.length !== metric.buckets.length + 1) {
          return `histogram series has ${series.counts.length} bucket counts, expected ${metric.buckets.length + 1} (bounds plus +Inf)`;
        }
        const values = fullLabels(series.labels);
        const seriesKey = values.join(SEP);
        const before = seen.get(seriesKey);
        const counts = series.counts.map((c, i) => c - (before?.counts[i] ?? 0));
        if (counts.some((c) => c < 0) || series.count <= (before?.count ?? 0)) continue; // older or unchanged
        if (before === undefined && !merged.metric.hasSeries(values)) {
          if (!this.#room(merged.metric.seriesCount)) { refused += 1; continue; }
          this.#seriesTotal += 1;
        }
        seen.set(seriesKey, { counts: [...series.counts], sum: series.sum, count: series.count });
        merged.metric.add(merged.metric.series(values), counts, series.sum - (before?.sum ?? 0), series.count - (before?.count ?? 0));
      }
      if (refused > 0) return tooManySeries(refused);
    }
    return undefined;
  }
}

/** Label names and values (in the same order) as prom-client takes them. */
function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) labels[names[i]!] = values[i]!;
  return labels;
}

function tooManySeries(refused: number): string {
  return `more than ${MAX_MERGED_SERIES_PER_METRIC.toLocaleString('en-US')} label sets for this metric, or ${MAX_MERGED_SERIES.toLocaleString('en-US')} over all ` +
    `processor metrics, over all worker threads: ${refused} new ones in this snapshot not merged ` +
    '(label values should come from a small fixed set, not from record data)';
}
