import { createWorkerMetrics, type WorkerMetrics as ObservedMetrics } from '../observability/index.js';
import type { ProcessorMetrics } from '../processor/types.js';
import type { WorkerMetricsSnapshot } from './messages.js';

/**
 * The processor-defined metrics of one worker thread (what `ctx.metrics`
 * writes to), kept by the observability layer's worker registry so the
 * coordinator can merge snapshots from every worker into its Prometheus
 * registry (`MetricsHub.mergeWorkerSnapshot`). `increment`/`observe` are
 * shorthands that declare a counter/histogram on first use, with the label
 * names of that first call plus `processor`.
 */
export class WorkerMetrics {
  readonly #registry: ObservedMetrics = createWorkerMetrics();
  #seq = 0;

  /** A `ProcessorMetrics` view that adds `processor` to every shorthand's labels. */
  forProcessor(processor: string): ProcessorMetrics {
    const registry = this.#registry;
    return {
      counter: (name, help, labelNames) => registry.counter(name, help, labelNames),
      histogram: (name, help, labelNames, buckets) => registry.histogram(name, help, labelNames, buckets),
      increment(name, by = 1, labels = {}) {
        const all = { ...labels, processor };
        registry.counter(name, name, Object.keys(all).sort()).inc(all, by);
      },
      observe(name, value, labels = {}) {
        const all = { ...labels, processor };
        registry.histogram(name, name, Object.keys(all).sort()).observe(value, all);
      },
    };
  }

  snapshot(threadId: number): WorkerMetricsSnapshot {
    return { threadId, ...this.#registry.snapshot(), seq: ++this.#seq };
  }
}
