import type { ProcessorMetrics } from '../../processor/types.js';
import type { WorkerMetricsSnapshot } from '../wire/messages.js';

/** Label sets one worker keeps per metric name; updates of further ones are dropped (and counted). */
export const MAX_SERIES_PER_METRIC = 1_000;

/**
 * The processor-defined metrics of one worker thread (what `ctx.metrics`
 * writes to). Plain counters and count/sum summaries: results carry what
 * changed ({@link WorkerMetrics.delta}) and the coordinator aggregates across
 * workers.
 *
 * Each metric name keeps at most {@link MAX_SERIES_PER_METRIC} label sets: a
 * label holding a record id or another unbounded value would otherwise grow
 * the worker's memory, every snapshot and the coordinator's registry with
 * every record (200,000 records with a distinct label each ran 37× slower and
 * took 1.1 GB). Updates of label sets beyond it are dropped and counted per
 * name (`dropped`), and the coordinator warns once per name.
 */
export class WorkerMetrics {
  readonly #counters = new Map<string, Series>();
  readonly #summaries = new Map<string, Series>();
  /** Label sets per `kind \0 name`. */
  readonly #perName = new Map<string, number>();
  /** Updates dropped per metric name (cumulative). */
  readonly #dropped = new Map<string, number>();
  /** Names whose series changed since the last delta. */
  #dirty = new Set<string>();
  #version = 0;

  /** Changes whenever a value changes: a snapshot equal to the last one sent need not be sent again. */
  get version(): number {
    return this.#version;
  }

  /** A `ProcessorMetrics` view that adds `processor` to every label set. */
  forProcessor(processor: string): ProcessorMetrics {
    return {
      increment: (name, by = 1, labels = NO_LABELS) => this.#add(this.#counters, name, labels, processor, by),
      observe: (name, value, labels = NO_LABELS) => this.#add(this.#summaries, name, labels, processor, value),
    };
  }

  increment(name: string, by: number, labels: Record<string, string>): void {
    this.#add(this.#counters, name, labels, undefined, by);
  }

  observe(name: string, value: number, labels: Record<string, string>): void {
    this.#add(this.#summaries, name, labels, undefined, value);
  }

  // Called for every ctx.metrics call of every record: the series key is
  // built without copying the labels, which are copied only for a new series.
  #add(series: Map<string, Series>, name: string, labels: Record<string, string>, processor: string | undefined, value: number): void {
    this.#version += 1;
    const key = seriesKey(name, labels, processor);
    const found = series.get(key);
    if (found) { found.value += value; found.count += 1; this.#dirty.add(name); return; }
    const kind = `${series === this.#counters ? 'c' : 's'}\0${name}`;
    const count = this.#perName.get(kind) ?? 0;
    if (count >= MAX_SERIES_PER_METRIC) {
      this.#dropped.set(name, (this.#dropped.get(name) ?? 0) + 1);
      return;
    }
    this.#perName.set(kind, count + 1);
    const own = processor === undefined ? { ...labels } : { ...labels, processor };
    series.set(key, { name, labels: own, value, count: 1 });
    this.#dirty.add(name);
  }

  /**
   * What changed since the last delta: every series of each metric name that
   * changed (cumulative values, so a delta delivered twice or late adds
   * nothing), and the cumulative dropped counts. Undefined when nothing did.
   */
  delta(threadId: number): WorkerMetricsSnapshot | undefined {
    if (this.#dirty.size === 0 && this.#dropped.size === 0) return undefined;
    const dirty = this.#dirty;
    this.#dirty = new Set();
    const pick = (list: Map<string, Series>) => [...list.values()].filter((s) => dirty.has(s.name));
    const snapshot: WorkerMetricsSnapshot = {
      threadId,
      counters: pick(this.#counters).map((s) => ({ name: s.name, labels: { ...s.labels }, value: s.value })),
      summaries: pick(this.#summaries).map((s) => ({ name: s.name, labels: { ...s.labels }, count: s.count, sum: s.value })),
    };
    if (this.#dropped.size > 0) snapshot.dropped = Object.fromEntries(this.#dropped);
    return snapshot;
  }

  snapshot(threadId: number): WorkerMetricsSnapshot {
    return {
      ...(this.#dropped.size > 0 ? { dropped: Object.fromEntries(this.#dropped) } : {}),
      threadId,
      counters: [...this.#counters.values()].map((s) => ({ name: s.name, labels: { ...s.labels }, value: s.value })),
      summaries: [...this.#summaries.values()].map((s) => ({ name: s.name, labels: { ...s.labels }, count: s.count, sum: s.value })),
    };
  }
}

/** One series: a counter's total, or a summary's sum (`value`) and count. */
interface Series { name: string; labels: Record<string, string>; value: number; count: number }

const NO_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** `name{k1=v1,k2=v2}` with the label names sorted; `processor`, when given, is a label that overrides one of that name. */
function seriesKey(name: string, labels: Record<string, string>, processor: string | undefined): string {
  const names = Object.keys(labels);
  if (processor !== undefined && !Object.hasOwn(labels, 'processor')) names.push('processor');
  if (names.length > 1) names.sort();
  let key = `${name}{`;
  for (let i = 0; i < names.length; i++) {
    const k = names[i]!;
    key += `${i === 0 ? '' : ','}${k}=${processor !== undefined && k === 'processor' ? processor : labels[k]}`;
  }
  return `${key}}`;
}
