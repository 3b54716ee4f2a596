import type { Registry } from 'prom-client';
import { promClient } from './prom-client.js';
import { BuiltInSeries } from './built-in-series.js';
import {
  BREAKER_STATE_VALUE, METRIC_PREFIX, METRICS,
  type BreakerState, type MetricSpec, type PoolConnectionState, type ProcessOutcome,
} from './metric-names.js';
import { ProgressTally, type ProgressSnapshot } from '../progress/progress-tally.js';
import { SnapshotMerger } from './snapshot-merger.js';
import type { MergeProblem, WorkerSeriesSnapshot } from './worker-snapshot.js';

export interface MetricsHubOptions {
  /**
   * Also expose prom-client's process and Node.js metrics (CPU, memory, GC,
   * event loop lag), prefixed `walrus_stream_`.
   * @default true
   */
  processMetrics?: boolean;
  /** Wall clock in epoch milliseconds, used for end-to-end latency. @default Date.now */
  now?: () => number;
}

/** Counts for one client request, as the client's request hook reports them. */
export interface ClientRequestReport {
  command: string;
  /** `host:port`. */
  node: string;
  /** `ok`, or the WalrusError code that ended the request. */
  outcome: string;
  durationMs: number;
  sentBytes?: number;
  receivedBytes?: number;
}

const MS = 1 / 1000;

/**
 * The one metrics registry of a running pipeline. It lives in the
 * coordinator: built-in series are recorded through the typed methods below
 * (callers never spell label names), and processor-defined metrics arrive as
 * worker snapshots through {@link MetricsHub.mergeWorkerSnapshot}.
 *
 * Built-in counts are exact across worker threads by construction: the
 * coordinator records them from the results it receives, so work a dying
 * worker never reported is not counted (and is redone by the runtime).
 */
export class MetricsHub {
  readonly registry: Registry = new (promClient().Registry)();
  #now: () => number;
  #merger: SnapshotMerger;
  #tally = new ProgressTally();
  #series: BuiltInSeries;
  #collectors = new Set<() => void>();
  #partitionLag = new Map<string, Record<number, number>>();

  constructor(options: MetricsHubOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#merger = new SnapshotMerger(this.registry);
    this.#series = new BuiltInSeries(this.registry);
    if (options.processMetrics ?? true) promClient().collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
  }

  /** Content type of {@link MetricsHub.metrics}' output. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every series (collectors run first). */
  metrics(): Promise<string> {
    this.collect();
    return this.registry.metrics();
  }

  /**
   * Registers a function run before every scrape (and every `collect()`):
   * the place to copy gauges that have no events, such as pool sizes,
   * `journal.stats()` or piscina's utilisation. Returns a remover.
   * A collector that throws is counted in `walrus_stream_errors_total`
   * (component `collector`) and the scrape still succeeds.
   */
  addCollector(collector: () => void): () => void {
    this.#collectors.add(collector);
    return () => { this.#collectors.delete(collector); };
  }

  /** Runs the collectors now (the progress view calls this before reading gauges). */
  collect(): void {
    for (const collector of this.#collectors) {
      try {
        collector();
      } catch (error) {
        this.recordError('collector', typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'INTERNAL_ERROR');
      }
    }
  }

  /** Totals and gauges for the live progress view (runs the collectors, then reads plain numbers). */
  progress(): ProgressSnapshot {
    this.collect();
    return this.#tally.snapshot(this.#now());
  }

  /**
   * Per-processor processing-time bucket counts (non-cumulative, the last
   * slot is `+Inf`) and their upper bounds in seconds: the dashboard turns
   * the difference of two reads into p50/p99 over that interval.
   */
  processingLatency(): { bounds: readonly number[]; byProcessor: Record<string, number[]> } {
    const histogram = this.#series.histogram(METRICS.processingDuration);
    const byProcessor: Record<string, number[]> = {};
    for (const series of histogram.allSeries()) byProcessor[series.labels.processor ?? ''] = series.counts.slice();
    return { bounds: histogram.bounds, byProcessor };
  }

  // -- records -----------------------------------------------------------------

  /** `n` records (and optionally their entry `bytes`) were read from `source`. */
  recordFetched(source: string, n: number, bytes?: number): void {
    this.#series.counter(METRICS.recordsFetched).inc({ source }, n);
    if (bytes !== undefined) this.#series.counter(METRICS.fetchedBytes).inc({ source }, bytes);
    this.#tally.add('fetched', source, n);
  }

  /** `n` records finished in `processor`; `durationsMs` are per-record processing times. */
  recordProcessed(processor: string, outcome: ProcessOutcome, n: number, durationsMs?: readonly number[]): void {
    this.#series.counter(METRICS.recordsProcessed).inc({ processor, outcome }, n);
    if (durationsMs !== undefined && durationsMs.length > 0) this.#series.observeMs(METRICS.processingDuration, [processor], durationsMs);
    this.#tally.add('processed', processor, n);
    if (outcome !== 'ok') this.#tally.bump('errors', n);
  }

  /**
   * `n` records were acknowledged by `sink`'s topic. Pass the records'
   * timestamps (epoch ms) to feed the end-to-end latency histogram.
   */
  recordEmitted(sink: string, n: number, options: { bytes?: number; recordTimestamps?: readonly number[] } = {}): void {
    this.#series.counter(METRICS.recordsEmitted).inc({ sink }, n);
    if (options.bytes !== undefined) this.#series.counter(METRICS.emittedBytes).inc({ sink }, options.bytes);
    if (options.recordTimestamps !== undefined && options.recordTimestamps.length > 0) {
      const now = this.#now();
      const histogram = this.#series.histogram(METRICS.endToEndLatency);
      const series = histogram.series([sink]);
      const timestamps = options.recordTimestamps;
      for (let i = 0; i < timestamps.length; i++) histogram.observe(series, Math.max(0, now - timestamps[i]!) * MS);
    }
    this.#tally.add('emitted', sink, n);
  }

  /** A record of `processor` will be attempted again. */
  recordRetried(processor: string, n = 1): void {
    this.#series.counter(METRICS.recordsRetried).inc({ processor }, n);
    this.#tally.bump('retried', n);
  }

  /** `n` records of `processor` went to its dead-letter topic. */
  recordDeadLettered(processor: string, n: number): void {
    this.#series.counter(METRICS.recordsDeadLettered).inc({ processor }, n);
    this.#tally.bump('deadLettered', n);
  }

  /** An error with WalrusError `code` happened in `component` (e.g. `source`, `sink`, `journal`). */
  recordError(component: string, code: string): void {
    this.#series.counter(METRICS.errors).inc({ component, code }, 1);
  }

  /** Time records waited between fetch and the start of processing. */
  observeQueueWait(processor: string, waitsMs: readonly number[]): void {
    this.#series.observeMs(METRICS.queueWait, [processor], waitsMs);
  }

  /** `n` updates of processor metric `metric` were dropped in a worker (its label-set limit). */
  recordMetricUpdatesDropped(metric: string, n: number): void {
    this.#series.counter(METRICS.metricUpdatesDropped).inc({ metric }, n);
  }

  /** A task of `records` records left for a worker in stage group `group`. */
  observeBatch(group: string, records: number): void {
    const histogram = this.#series.histogram(METRICS.batchRecords);
    histogram.observe(histogram.series([group]), records);
  }

  /** Backpressure: sink records not yet acknowledged, and which stage groups hold back their batches. */
  setBackpressure(sinkBacklog: number, waiting: Record<string, boolean>): void {
    this.#series.gauge(METRICS.sinkBacklog).set(sinkBacklog);
    const gauge = this.#series.gauge(METRICS.groupWaiting);
    for (const [group, held] of Object.entries(waiting)) gauge.set({ group }, held ? 1 : 0);
  }

  setInFlight(n: number): void {
    this.#series.gauge(METRICS.inFlight).set(n);
    this.#tally.set('inFlight', n);
  }

  /** Entries of `source` not yet read, when the node reports it. */
  setSourceLag(source: string, entries: number): void {
    this.#series.gauge(METRICS.sourceLag).set({ source }, entries);
    this.#tally.setLag(source, entries);
  }

  /** Entries of partition `partition` of a partitioned `source` not yet read, when the node reports it. */
  setSourcePartitionLag(source: string, partition: number, entries: number): void {
    this.#series.gauge(METRICS.sourcePartitionLag).set({ source, partition: String(partition) }, entries);
    const lags = this.#partitionLag.get(source) ?? this.#partitionLag.set(source, {}).get(source)!;
    lags[partition] = entries;
  }

  /**
   * The latest per-partition lag of each partitioned source (partition index →
   * entries), as {@link MetricsHub.setSourcePartitionLag} recorded it. Copies:
   * a plain read for the dashboard, once a second.
   */
  sourcePartitionLag(): Record<string, Record<number, number>> {
    const out: Record<string, Record<number, number>> = {};
    for (const [source, lags] of this.#partitionLag) out[source] = { ...lags };
    return out;
  }

  // -- worker pool ----------------------------------------------------------------

  setWorkers(threads: number): void {
    this.#series.gauge(METRICS.workerThreads).set(threads);
    this.#tally.set('workers', threads);
  }

  /** Pool utilisation 0..1 over the last one to two seconds (`WorkerPool.utilization`). */
  setWorkerUtilization(ratio: number): void {
    this.#series.gauge(METRICS.workerUtilization).set(ratio);
    this.#tally.set('utilization', ratio);
  }

  recordWorkerReplaced(): void {
    this.#series.counter(METRICS.workerReplacements).inc(1);
  }

  /** Merges a processor-metrics snapshot from a worker; returns what could not be merged. */
  mergeWorkerSnapshot(workerId: string | number, snapshot: WorkerSeriesSnapshot): MergeProblem[] {
    return this.#merger.merge(workerId, snapshot);
  }

  /** A worker generation exited: ignore anything it may still send. */
  retireWorker(workerId: string | number, generation: string): void {
    this.#merger.retire(workerId, generation);
  }

  /** Worker generations whose processor-metric totals are kept (live threads, and ended ones not retired). */
  get workerGenerations(): number {
    return this.#merger.generations;
  }

  // -- client ---------------------------------------------------------------------

  recordClientRequest(report: ClientRequestReport): void {
    const { command, node, outcome } = report;
    this.#series.counter(METRICS.clientRequests).inc({ command, node, outcome }, 1);
    const histogram = this.#series.histogram(METRICS.clientRequestDuration);
    histogram.observe(histogram.series([command, node]), report.durationMs * MS);
    if (report.sentBytes) this.#series.counter(METRICS.clientSentBytes).inc({ node }, report.sentBytes);
    if (report.receivedBytes) this.#series.counter(METRICS.clientReceivedBytes).inc({ node }, report.receivedBytes);
  }

  recordClientRetry(command: string): void {
    this.#series.counter(METRICS.clientRetries).inc({ command }, 1);
  }

  setPoolConnections(node: string, counts: Readonly<Record<PoolConnectionState, number>>): void {
    const gauge = this.#series.gauge(METRICS.poolConnections);
    for (const state of ['idle', 'busy', 'pending'] as const) gauge.set({ node, state }, counts[state]);
  }

  recordConnectionFailure(node: string): void {
    this.#series.counter(METRICS.connectionFailures).inc({ node }, 1);
  }

  setBreakerState(node: string, state: BreakerState): void {
    this.#series.gauge(METRICS.breakerState).set({ node }, BREAKER_STATE_VALUE[state]);
  }

  /** One entry of `sink` was compressed from `originalBytes` to `compressedBytes`. */
  observeCompression(sink: string, originalBytes: number, compressedBytes: number): void {
    if (originalBytes <= 0) return;
    const histogram = this.#series.histogram(METRICS.compressionRatio);
    histogram.observe(histogram.series([sink]), compressedBytes / originalBytes);
  }

  // -- journal ---------------------------------------------------------------------

  /** Feed it `journal.stats()`. */
  setJournalStats(stats: { unreleased: number; bytes: number; segments: number }): void {
    this.#series.gauge(METRICS.journalSize).set(stats.bytes);
    this.#series.gauge(METRICS.journalUnreleased).set(stats.unreleased);
    this.#series.gauge(METRICS.journalSegments).set(stats.segments);
  }
}
