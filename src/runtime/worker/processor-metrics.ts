import type { ProcessorMetrics } from '../../processor/types.js';
import type { MetricDropReason, WorkerMetricsSnapshot } from '../wire/messages.js';

/** Label sets one worker keeps per metric name; updates of further ones are dropped (and counted). */
export const MAX_SERIES_PER_METRIC = 1_000;
/** Label sets one worker keeps over all its metric names. */
export const MAX_SERIES_PER_WORKER = 10_000;
/** Metric names (counters and summaries apart) one worker keeps; updates of further names are dropped. */
export const MAX_METRIC_NAMES = 256;
/** Label names one metric may use (over all its label sets). */
export const MAX_LABELS_PER_METRIC = 16;
/** Characters of one label value, and of a metric name. */
export const MAX_LABEL_VALUE_CHARS = 256;
export const MAX_METRIC_NAME_CHARS = 200;
/** The `metric` that updates of names past {@link MAX_METRIC_NAMES} (or too long) are counted under. */
export const OTHER_METRIC_NAMES = '(other names)';

/** What one worker keeps per metric name (`kind \0 name`). */
interface NameState { series: number; labelNames: Set<string> }

/**
 * The processor-defined metrics of one worker thread (what `ctx.metrics`
 * writes to). Plain counters and count/sum summaries: results carry what
 * changed ({@link WorkerMetrics.delta}) and the coordinator aggregates across
 * workers.
 *
 * Everything a processor can grow is bounded, since every series lives in
 * the worker, travels with results and is registered in the coordinator:
 * - each metric name keeps at most {@link MAX_SERIES_PER_METRIC} label sets
 *   (200,000 records with a distinct label each ran 37× slower and took
 *   1.1 GB), and the worker at most {@link MAX_SERIES_PER_WORKER};
 * - at most {@link MAX_METRIC_NAMES} names (a name built from a record id:
 *   50,000 records made 50,000 registered metrics, 1.6× slower, +92 MB);
 * - at most {@link MAX_LABELS_PER_METRIC} label names per metric, label
 *   values of at most {@link MAX_LABEL_VALUE_CHARS} characters (5,000
 *   records with a 100 KB label value each took 1.7 GB and ran 60× slower)
 *   and names of at most {@link MAX_METRIC_NAME_CHARS}.
 * Updates past a limit are dropped and counted per name (`dropped`, names
 * past the name limit under {@link OTHER_METRIC_NAMES}) with the limit each
 * name met first (`droppedWhy`); the coordinator warns once per name, saying
 * which limit. Label sets already kept go on counting.
 *
 * What a processor passes is checked too, since it crosses to the coordinator:
 * an update by a value that is not a finite number (`number`), a counter
 * update by a negative one (`negative`), labels that are not an object of
 * strings, numbers or booleans (`labelType`) or a name that is not a string
 * (`name`) is dropped and counted the same way.
 */
export class WorkerMetrics {
  readonly #counters = new Map<string, Series>();
  readonly #summaries = new Map<string, Series>();
  /** Label sets and label names per `kind \0 name`. */
  readonly #perName = new Map<string, NameState>();
  #seriesTotal = 0;
  /** Updates dropped per metric name (cumulative), and the limit each name met first. */
  readonly #dropped = new Map<string, number>();
  readonly #droppedWhy = new Map<string, MetricDropReason>();
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
    // Not a string (a Symbol, an object): no name to count it under, and `${name}` would throw into the processor.
    if (typeof name !== 'string') { this.#drop(OTHER_METRIC_NAMES, 'name'); return; }
    // A BigInt, a string, NaN or ±Infinity added to a total would make it one too: a BigInt total ended the
    // coordinator (TypeError: Cannot mix BigInt and other types) at the next merge, a string one concatenated.
    // A counter never goes down: a negative step would hide as many later increments from the coordinator's merge.
    const key = typeof value !== 'number' || !Number.isFinite(value) ? NOT_A_NUMBER
      : value < 0 && series === this.#counters ? NEGATIVE : seriesKey(name, labels, processor);
    const found = typeof key === 'string' ? series.get(key) : undefined;
    if (found) { found.value += value; found.count += 1; this.#dirty.add(name); return; }
    // A name is admitted (or not) before anything is counted under it, even a
    // dropped update: names built from record data would otherwise each get a
    // `dropped` entry, sent with every result and registered in the coordinator.
    const kind = `${series === this.#counters ? 'c' : 's'}\0${name}`;
    let state = this.#perName.get(kind);
    if (state === undefined) {
      if (name.length > MAX_METRIC_NAME_CHARS) { this.#drop(OTHER_METRIC_NAMES, 'name'); return; }
      if (this.#perName.size >= MAX_METRIC_NAMES) { this.#drop(OTHER_METRIC_NAMES, 'names'); return; }
      this.#perName.set(kind, state = { series: 0, labelNames: new Set() });
    }
    if (typeof key !== 'string') { this.#drop(name, key.why); return; }
    if (state.series >= MAX_SERIES_PER_METRIC) { this.#drop(name, 'series'); return; }
    if (this.#seriesTotal >= MAX_SERIES_PER_WORKER) { this.#drop(name, 'worker'); return; }
    const own: Record<string, string> = processor === undefined ? { ...labels } : { ...labels, processor };
    // Numbers and booleans are kept as their text (seriesKey let only those through besides strings).
    for (const l in own) if (typeof own[l] !== 'string') own[l] = String(own[l]);
    let added = 0;
    for (const l in own) if (!state.labelNames.has(l)) added += 1;
    if (state.labelNames.size + added > MAX_LABELS_PER_METRIC) { this.#drop(name, 'labels'); return; }
    if (added > 0) for (const l in own) state.labelNames.add(l);
    state.series += 1;
    this.#seriesTotal += 1;
    series.set(key, { name, labels: own, value, count: 1 });
    this.#dirty.add(name);
  }

  #drop(name: string, why: MetricDropReason): void {
    this.#dropped.set(name, (this.#dropped.get(name) ?? 0) + 1);
    if (!this.#droppedWhy.has(name)) this.#droppedWhy.set(name, why);
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
    if (this.#dropped.size > 0) { snapshot.dropped = Object.fromEntries(this.#dropped); snapshot.droppedWhy = Object.fromEntries(this.#droppedWhy); }
    return snapshot;
  }

  snapshot(threadId: number): WorkerMetricsSnapshot {
    return {
      ...(this.#dropped.size > 0 ? { dropped: Object.fromEntries(this.#dropped), droppedWhy: Object.fromEntries(this.#droppedWhy) } : {}),
      threadId,
      counters: [...this.#counters.values()].map((s) => ({ name: s.name, labels: { ...s.labels }, value: s.value })),
      summaries: [...this.#summaries.values()].map((s) => ({ name: s.name, labels: { ...s.labels }, count: s.count, sum: s.value })),
    };
  }
}

/** One series: a counter's total, or a summary's sum (`value`) and count. */
interface Series { name: string; labels: Record<string, string>; value: number; count: number }

const TOO_MANY_LABELS = Object.freeze({ why: 'labels' as const });
const VALUE_TOO_LONG = Object.freeze({ why: 'value' as const });
const LABEL_TYPE = Object.freeze({ why: 'labelType' as const });
const NOT_A_NUMBER = Object.freeze({ why: 'number' as const });
const NEGATIVE = Object.freeze({ why: 'negative' as const });

const NO_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * `name{k1=v1,k2=v2}` with the label names sorted; `processor`, when given, is a label that overrides one of that name.
 * A label set past the limits (too many labels, a value too long) gives the reason instead: checked before the key is built.
 */
function seriesKey(name: string, labels: Record<string, string>, processor: string | undefined): string | { why: MetricDropReason } {
  if (typeof labels !== 'object' || labels === null) return LABEL_TYPE;
  const names = Object.keys(labels);
  if (names.length > MAX_LABELS_PER_METRIC) return TOO_MANY_LABELS;
  for (let i = 0; i < names.length; i++) {
    const v: unknown = labels[names[i]!];
    // An object, a function or a symbol has no label text (one holding a function ended the worker thread when its
    // snapshot crossed to the coordinator, taking the batch with it); a number or a boolean is kept as its text.
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return LABEL_TYPE;
    if (String(v).length > MAX_LABEL_VALUE_CHARS) return VALUE_TOO_LONG;
  }
  if (processor !== undefined && !Object.hasOwn(labels, 'processor')) names.push('processor');
  // At most 17 names: an insertion sort in place (Array#sort allocated a work area on every call, for every record).
  for (let i = 1; i < names.length; i++) {
    const n = names[i]!;
    let j = i - 1;
    while (j >= 0 && names[j]! > n) { names[j + 1] = names[j]!; j--; }
    names[j + 1] = n;
  }
  let key = `${name}{`;
  for (let i = 0; i < names.length; i++) {
    const k = names[i]!;
    key += `${i === 0 ? '' : ','}${k}=${processor !== undefined && k === 'processor' ? processor : labels[k]}`;
  }
  return `${key}}`;
}
