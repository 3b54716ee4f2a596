import type { Counter, Gauge, Registry } from 'prom-client';
import { promClient } from './prom-client.js';
import { BucketHistogram } from './bucket-histogram.js';
import { METRICS, type MetricSpec } from './metric-names.js';

/**
 * The prom-client objects behind every entry of {@link METRICS}, created and
 * registered once. Histograms are {@link BucketHistogram}s (batch-friendly);
 * counters and gauges are prom-client's own.
 */
export class BuiltInSeries {
  readonly #counters = new Map<string, Counter<string>>();
  readonly #gauges = new Map<string, Gauge<string>>();
  readonly #histograms = new Map<string, BucketHistogram>();

  constructor(registry: Registry) {
    for (const spec of Object.values(METRICS) as MetricSpec[]) {
      const config = { name: spec.name, help: spec.help, labelNames: spec.labels, registers: [registry] };
      if (spec.type === 'counter') this.#counters.set(spec.name, new (promClient().Counter)(config));
      else if (spec.type === 'gauge') this.#gauges.set(spec.name, new (promClient().Gauge)(config));
      else {
        const histogram = new BucketHistogram(spec.name, spec.help, spec.labels, spec.buckets ?? []);
        registry.registerMetric(histogram as never);
        this.#histograms.set(spec.name, histogram);
      }
    }
  }

  counter(spec: MetricSpec): Counter<string> {
    return this.#counters.get(spec.name)!;
  }

  gauge(spec: MetricSpec): Gauge<string> {
    return this.#gauges.get(spec.name)!;
  }

  histogram(spec: MetricSpec): BucketHistogram {
    return this.#histograms.get(spec.name)!;
  }

  /** Observes values given in milliseconds into a seconds histogram, resolving the series once. */
  observeMs(spec: MetricSpec, labels: readonly string[], valuesMs: readonly number[]): void {
    const histogram = this.histogram(spec);
    const series = histogram.series(labels);
    // Indexed: a for-of here allocated an iterator result per value in profiles (one call per batch, a value per record).
    for (let i = 0; i < valuesMs.length; i++) histogram.observe(series, valuesMs[i]! / 1000);
  }
}
