import { randomUUID } from 'node:crypto';
import { WalrusError } from '../../errors/index.js';
import { METRIC_PREFIX, PROMETHEUS_LABEL, PROMETHEUS_NAME } from './metric-names.js';
import type { MetricSnapshot, WorkerMetricsSnapshot } from './worker-snapshot.js';

/** Default histogram bounds for processor-defined histograms (seconds-friendly). */
export const DEFAULT_WORKER_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A processor-defined counter. Label values are given in the order the labels were declared. */
export interface WorkerCounter {
  inc(labelValues?: Readonly<Record<string, string>>, by?: number): void;
}

/** A processor-defined histogram. */
export interface WorkerHistogram {
  observe(value: number, labelValues?: Readonly<Record<string, string>>): void;
}

/** What `ctx.metrics` is inside a worker. */
export interface WorkerMetrics {
  /** Declares (or returns the already declared) counter `name`. */
  counter(name: string, help: string, labelNames?: readonly string[]): WorkerCounter;
  /** Declares (or returns the already declared) histogram `name`. @default buckets DEFAULT_WORKER_BUCKETS */
  histogram(name: string, help: string, labelNames?: readonly string[], buckets?: readonly number[]): WorkerHistogram;
  /** The cumulative totals so far; send it to the coordinator with each result. */
  snapshot(): WorkerMetricsSnapshot;
}

export interface WorkerMetricsOptions {
  /**
   * Identifies this life of the worker. Give each replacement a new one.
   * @default a random UUID, which is new for every call and so for every thread
   */
  generation?: string;
}

interface CounterState { kind: 'counter'; name: string; help: string; labelNames: string[]; series: Map<string, { labels: string[]; value: number }> }
interface HistogramState { kind: 'histogram'; name: string; help: string; labelNames: string[]; buckets: number[]; series: Map<string, { labels: string[]; counts: number[]; sum: number; count: number }> }

function invalid(message: string): WalrusError {
  return new WalrusError('INVALID_ARGUMENT', message);
}

function checkDeclaration(name: string, labelNames: readonly string[]): void {
  if (!PROMETHEUS_NAME.test(name)) throw invalid(`metric name "${name}" is not a valid Prometheus name: use letters, digits and underscores, not starting with a digit`);
  if (name.startsWith(METRIC_PREFIX)) throw invalid(`metric name "${name}" uses the reserved prefix "${METRIC_PREFIX}": pick your own prefix, e.g. "orders_${name.slice(METRIC_PREFIX.length)}"`);
  for (const label of labelNames) {
    if (!PROMETHEUS_LABEL.test(label) || label.startsWith('__') || label === 'le') {
      throw invalid(`metric "${name}": label "${label}" is not allowed (letters, digits, underscores; not "le", not starting with "__")`);
    }
  }
}

/**
 * The series key for `given` (label values joined by NUL, in declaration
 * order). It runs per record on the hot path, so it builds one string and
 * no arrays; the label values are recovered from the key when a series is
 * first created.
 */
function seriesKey(metric: string, labelNames: readonly string[], given: Readonly<Record<string, string>> | undefined): string {
  let key = '';
  for (let i = 0; i < labelNames.length; i++) {
    const value = given?.[labelNames[i]!];
    if (value === undefined) throw invalid(`metric "${metric}": missing value for label "${labelNames[i]}"`);
    key = i === 0 ? String(value) : `${key}\u0000${value}`;
  }
  if (given !== undefined) {
    let count = 0;
    for (const name in given) {
      count++;
      if (count > labelNames.length || !labelNames.includes(name)) {
        throw invalid(`metric "${metric}": unknown label "${name}" (declared: ${labelNames.join(', ') || 'none'})`);
      }
    }
  }
  return key;
}

function labelsOfKey(metric: string, key: string, labelNames: readonly string[]): string[] {
  if (labelNames.length === 0) return [];
  const values = key.split('\u0000');
  if (values.length !== labelNames.length) throw invalid(`metric "${metric}": label values may not contain the NUL character`);
  return values;
}

/**
 * Metrics a processor defines through `ctx.metrics`, kept as plain numbers
 * in the worker (prom-client lives only in the coordinator, which merges
 * snapshots; see worker-snapshot.ts for why snapshots are cumulative).
 */
export function createWorkerMetrics(options: WorkerMetricsOptions = {}): WorkerMetrics {
  const generation = options.generation ?? randomUUID();
  const metrics = new Map<string, CounterState | HistogramState>();
  let seq = 0;

  function declared(name: string, kind: 'counter' | 'histogram', labelNames: readonly string[]): CounterState | HistogramState | undefined {
    const existing = metrics.get(name);
    if (existing === undefined) return undefined;
    if (existing.kind !== kind || existing.labelNames.join(',') !== labelNames.join(',')) {
      throw invalid(`metric "${name}" was already declared as a ${existing.kind} with labels [${existing.labelNames.join(', ')}]`);
    }
    return existing;
  }

  return {
    counter(name, help, labelNames = []) {
      const state = (declared(name, 'counter', labelNames) ?? (() => {
        checkDeclaration(name, labelNames);
        const created: CounterState = { kind: 'counter', name, help, labelNames: [...labelNames], series: new Map() };
        metrics.set(name, created);
        return created;
      })()) as CounterState;
      return {
        inc(given, by = 1) {
          if (!Number.isFinite(by) || by < 0) throw invalid(`counter "${name}": increment must be a finite number >= 0 (got ${by})`);
          const key = seriesKey(name, state.labelNames, given);
          const series = state.series.get(key);
          if (series === undefined) state.series.set(key, { labels: labelsOfKey(name, key, state.labelNames), value: by });
          else series.value += by;
        },
      };
    },

    histogram(name, help, labelNames = [], buckets = DEFAULT_WORKER_BUCKETS) {
      const state = (declared(name, 'histogram', labelNames) ?? (() => {
        checkDeclaration(name, labelNames);
        for (let i = 1; i < buckets.length; i++) {
          if (!(buckets[i]! > buckets[i - 1]!)) throw invalid(`histogram "${name}": buckets must increase strictly (got ${buckets.join(', ')})`);
        }
        const created: HistogramState = { kind: 'histogram', name, help, labelNames: [...labelNames], buckets: [...buckets], series: new Map() };
        metrics.set(name, created);
        return created;
      })()) as HistogramState;
      return {
        observe(value, given) {
          if (!Number.isFinite(value)) throw invalid(`histogram "${name}": value must be a finite number (got ${value})`);
          const key = seriesKey(name, state.labelNames, given);
          let series = state.series.get(key);
          if (series === undefined) {
            series = { labels: labelsOfKey(name, key, state.labelNames), counts: new Array<number>(state.buckets.length + 1).fill(0), sum: 0, count: 0 };
            state.series.set(key, series);
          }
          let i = 0;
          while (i < state.buckets.length && value > state.buckets[i]!) i++;
          series.counts[i]!++;
          series.sum += value;
          series.count++;
        },
      };
    },

    snapshot() {
      const out: MetricSnapshot[] = [];
      for (const m of metrics.values()) {
        if (m.kind === 'counter') {
          out.push({ kind: 'counter', name: m.name, help: m.help, labelNames: [...m.labelNames], series: [...m.series.values()].map((s) => ({ labels: [...s.labels], value: s.value })) });
        } else {
          out.push({ kind: 'histogram', name: m.name, help: m.help, labelNames: [...m.labelNames], buckets: [...m.buckets], series: [...m.series.values()].map((s) => ({ labels: [...s.labels], counts: [...s.counts], sum: s.sum, count: s.count })) });
        }
      }
      seq += 1;
      return { generation, seq, metrics: out };
    },
  };
}
