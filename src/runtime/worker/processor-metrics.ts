import type { ProcessorMetrics } from '../../processor/types.js';
import type { WorkerMetricsSnapshot } from '../wire/messages.js';

/**
 * The processor-defined metrics of one worker thread (what `ctx.metrics`
 * writes to). Plain counters and count/sum summaries: the coordinator pulls a
 * snapshot over the control channel and aggregates across workers.
 */
export class WorkerMetrics {
  readonly #counters = new Map<string, Series>();
  readonly #summaries = new Map<string, Series>();
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
    if (found) { found.value += value; found.count += 1; return; }
    const own = processor === undefined ? { ...labels } : { ...labels, processor };
    series.set(key, { name, labels: own, value, count: 1 });
  }

  snapshot(threadId: number): WorkerMetricsSnapshot {
    return {
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
