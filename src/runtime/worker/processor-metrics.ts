import type { ProcessorMetrics } from '../../processor/types.js';
import type { WorkerMetricsSnapshot } from '../wire/messages.js';

/**
 * The processor-defined metrics of one worker thread (what `ctx.metrics`
 * writes to). Plain counters and count/sum summaries: the coordinator pulls a
 * snapshot over the control channel and aggregates across workers.
 */
export class WorkerMetrics {
  readonly #counters = new Map<string, { name: string; labels: Record<string, string>; value: number }>();
  readonly #summaries = new Map<string, { name: string; labels: Record<string, string>; count: number; sum: number }>();
  #version = 0;

  /** Changes whenever a value changes: a snapshot equal to the last one sent need not be sent again. */
  get version(): number {
    return this.#version;
  }

  /** A `ProcessorMetrics` view that adds `processor` to every label set. */
  forProcessor(processor: string): ProcessorMetrics {
    return {
      increment: (name, by = 1, labels = {}) => this.increment(name, by, { ...labels, processor }),
      observe: (name, value, labels = {}) => this.observe(name, value, { ...labels, processor }),
    };
  }

  increment(name: string, by: number, labels: Record<string, string>): void {
    this.#version += 1;
    const key = seriesKey(name, labels);
    const series = this.#counters.get(key);
    if (series) series.value += by;
    else this.#counters.set(key, { name, labels, value: by });
  }

  observe(name: string, value: number, labels: Record<string, string>): void {
    this.#version += 1;
    const key = seriesKey(name, labels);
    const series = this.#summaries.get(key);
    if (series) { series.count += 1; series.sum += value; }
    else this.#summaries.set(key, { name, labels, count: 1, sum: value });
  }

  snapshot(threadId: number): WorkerMetricsSnapshot {
    return {
      threadId,
      counters: [...this.#counters.values()].map((s) => ({ ...s, labels: { ...s.labels } })),
      summaries: [...this.#summaries.values()].map((s) => ({ ...s, labels: { ...s.labels } })),
    };
  }
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',')}}`;
}
