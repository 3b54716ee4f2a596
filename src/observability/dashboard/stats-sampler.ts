import { histogramQuantile } from '../metrics/metrics-text.js';
import type { ProgressSnapshot } from '../progress/progress-tally.js';

/** One processor's counts, as the coordinator's summary has them. */
export interface ProcessorTotals { processed: number; retries: number; deadLettered: number }

/** What the sampler reads every interval (all cheap, synchronous reads). */
export interface StatsSources {
  /** Totals and gauges (`hub.progress()`). */
  progress(): ProgressSnapshot;
  /** Per-processor counts (the coordinator's summary). */
  processors(): Record<string, ProcessorTotals>;
  /** Records queued or running per processor. @default none */
  pending?(): Record<string, number>;
  /** Processing-time buckets per processor (`hub.processingLatency()`). @default none */
  latency?(): { bounds: readonly number[]; byProcessor: Record<string, number[]> };
  /** Lag per partition (index → entries) of each partitioned source (`hub.sourcePartitionLag()`). @default none */
  partitionLag?(): Record<string, Record<number, number>>;
}

/** The dashboard's picture of the run at one moment; rates and latencies cover the interval before it. */
export interface StatsFrame {
  at: number;
  inFlight: number;
  workers: number;
  /** 0..1 over the last one to two seconds. */
  utilization: number;
  retried: number;
  deadLettered: number;
  errors: number;
  /**
   * Per source: records read, their rate, the lag where the node reports it, and for a
   * partitioned source the lag of each of its partitions (index → entries; all of them,
   * as the node reports them: the page marks the ones this instance owns).
   */
  sources: Record<string, { records: number; rate: number; lag?: number; partitionLag?: Record<number, number> }>;
  processors: Record<string, { processed: number; rate: number; errors: number; retries: number; deadLettered: number; inFlight?: number; p50Ms?: number; p99Ms?: number }>;
  sinks: Record<string, { records: number; rate: number }>;
}

/** Options of {@link StatsSampler}. */
export interface StatsSamplerOptions {
  /** @default 1000 */
  intervalMs?: number;
  /** Frames kept for the charts (at 1 s, 300 = the last five minutes). @default 300 */
  historySize?: number;
  now?: () => number;
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * `table[name]` when it is the table's own: a source, processor or sink may
 * be named "constructor" or "toString", and a table without it yet (the
 * previous sample, the latency buckets) gave Object's (a NaN rate; a
 * processor "toString" with no latency yet threw "now.map is not a function").
 */
const own = <T>(table: Record<string, T> | undefined, name: string): T | undefined => (table !== undefined && Object.hasOwn(table, name) ? table[name] : undefined);

/**
 * Samples the run once per interval into a {@link StatsFrame}, keeps the
 * last few minutes of them for the charts, and hands each new frame to the
 * listeners (the Server-Sent Events stream). A sample is a handful of map
 * reads, so it runs whether or not a page is open: the charts then have a
 * history when one opens.
 */
export class StatsSampler {
  readonly #sources: StatsSources;
  readonly #intervalMs: number;
  readonly #historySize: number;
  readonly #now: () => number;
  readonly #history: StatsFrame[] = [];
  readonly #listeners = new Set<(frame: StatsFrame) => void>();
  #previous: { at: number; progress: ProgressSnapshot; processors: Record<string, ProcessorTotals>; latency: Record<string, number[]> } | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(sources: StatsSources, options: StatsSamplerOptions = {}) {
    this.#sources = sources;
    this.#intervalMs = options.intervalMs ?? 1_000;
    this.#historySize = options.historySize ?? 300;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    if (this.#timer) return;
    this.sample();
    this.#timer = setInterval(() => this.sample(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The latest frame (sampling now if there is none yet). */
  current(): StatsFrame {
    return this.#history.at(-1) ?? this.sample();
  }

  /** Frames of the last minutes, oldest first. */
  history(): readonly StatsFrame[] {
    return this.#history;
  }

  /** Calls `listener` with every new frame; returns the remover. */
  onFrame(listener: (frame: StatsFrame) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  /** Takes one sample now (the timer calls this; tests may too). */
  sample(): StatsFrame {
    const at = this.#now();
    const progress = this.#sources.progress();
    // Copied: the coordinator's counts are live objects, and the next sample's rates need these values.
    const processors: Record<string, ProcessorTotals> = {};
    for (const [name, c] of Object.entries(this.#sources.processors())) Object.defineProperty(processors, name, { value: { processed: c.processed, retries: c.retries, deadLettered: c.deadLettered }, enumerable: true });
    const pending = this.#sources.pending?.() ?? {};
    const latency = this.#sources.latency?.();
    const previous = this.#previous;
    const seconds = previous && at > previous.at ? (at - previous.at) / 1000 : 0;
    const rate = (now: number, before: number | undefined): number => (seconds > 0 ? round(Math.max(0, now - (before ?? 0)) / seconds) : 0);

    const frame: StatsFrame = {
      at, inFlight: progress.inFlight, workers: progress.workers, utilization: round(progress.utilization, 3),
      retried: progress.retried, deadLettered: progress.deadLettered, errors: progress.errors,
      sources: {}, processors: {}, sinks: {},
    };
    const partitionLag = this.#sources.partitionLag?.() ?? {};
    for (const [name, records] of Object.entries(progress.fetched)) {
      const lag = own(progress.lag, name);
      frame.sources[name] = { records, rate: rate(records, own(previous?.progress.fetched, name)), ...(lag === undefined ? {} : { lag }) };
    }
    // A partitioned source shows up with its partitions' lag before its first record is read.
    for (const [name, lags] of Object.entries(partitionLag)) {
      const lag = own(progress.lag, name);
      const view = own(frame.sources, name) ?? (frame.sources[name] = { records: 0, rate: 0, ...(lag === undefined ? {} : { lag }) });
      view.partitionLag = lags;
    }
    for (const [name, records] of Object.entries(progress.emitted)) {
      frame.sinks[name] = { records, rate: rate(records, own(previous?.progress.emitted, name)) };
    }
    for (const [name, counts] of Object.entries(processors)) {
      const before = own(previous?.processors, name);
      const view: StatsFrame['processors'][string] = {
        processed: counts.processed, rate: rate(counts.processed, before?.processed),
        // A failed attempt is either retried or dead-lettered.
        errors: counts.retries + counts.deadLettered, retries: counts.retries, deadLettered: counts.deadLettered,
      };
      const inFlight = own(pending, name);
      if (inFlight !== undefined) view.inFlight = inFlight;
      const buckets = own(latency?.byProcessor, name);
      if (latency && buckets) {
        const quantiles = intervalQuantiles(latency.bounds, buckets, own(previous?.latency, name));
        if (quantiles) { view.p50Ms = quantiles.p50Ms; view.p99Ms = quantiles.p99Ms; }
      }
      frame.processors[name] = view;
    }
    this.#previous = { at, progress, processors, latency: latency?.byProcessor ?? {} };
    this.#history.push(frame);
    if (this.#history.length > this.#historySize) this.#history.shift();
    for (const listener of this.#listeners) listener(frame);
    return frame;
  }
}

/** p50/p99 in ms of what was observed between two reads of the same buckets; undefined when nothing was. */
function intervalQuantiles(bounds: readonly number[], now: readonly number[], before: readonly number[] | undefined): { p50Ms: number; p99Ms: number } | undefined {
  let cumulative = 0;
  const buckets = now.map((count, i) => {
    cumulative += count - (before?.[i] ?? 0);
    return { le: i < bounds.length ? bounds[i]! : Infinity, count: cumulative };
  });
  if (cumulative <= 0) return undefined;
  const q = (p: number): number => round((histogramQuantile(p, buckets) ?? 0) * 1000, 3);
  return { p50Ms: q(0.5), p99Ms: q(0.99) };
}
