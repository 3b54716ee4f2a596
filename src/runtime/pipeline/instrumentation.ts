import type { Span } from '@opentelemetry/api';
import type { SerializedError } from '../../errors/index.js';
import { SPAN_NAMES } from '../../observability/tracing/span-attributes.js';
import { fromLabelledSnapshot } from '../../observability/metrics/labelled-snapshot.js';
import { injectTraceContext, recordSpanError, startSpan, tracingActive, type RecordHeaders } from '../../observability/tracing/tracing.js';
import type { MetricsHub } from '../../observability/metrics/metrics-hub.js';
import type { GroupBatchResult, GroupSpecWire, MetricDropReason } from '../wire/messages.js';
import type { Job } from '../coordinator/stage-runner.js';
import { MAX_LABEL_VALUE_CHARS, MAX_LABELS_PER_METRIC, MAX_METRIC_NAME_CHARS, MAX_METRIC_NAMES, MAX_SERIES_PER_METRIC, MAX_SERIES_PER_WORKER } from '../worker/processor-metrics.js';

/** The warning for each limit a processor metric can reach in a worker thread (processor-metrics.ts). */
/** Distinct processor-metric problems said in the log (each once); past it they only count in /metrics. */
const MAX_PROBLEMS_LOGGED = 1_000;

const DROP_MESSAGES: Record<MetricDropReason, string> = {
  series: `processor metric has more than ${MAX_SERIES_PER_METRIC} label sets in one worker thread`,
  worker: `a worker thread holds ${MAX_SERIES_PER_WORKER} label sets over all processor metrics`,
  labels: `processor metric uses more than ${MAX_LABELS_PER_METRIC} label names`,
  value: `processor metric got a label value longer than ${MAX_LABEL_VALUE_CHARS} characters`,
  names: `processors used more than ${MAX_METRIC_NAMES} metric names in one worker thread (a name built from a record id?)`,
  name: `processors used a metric name longer than ${MAX_METRIC_NAME_CHARS} characters, or one that is not a string`,
  number: 'processor metric was updated by a value that is not a finite number (ctx.metrics.increment(name, by) and observe(name, value) take numbers; a BigInt, a string, NaN or Infinity is not one)',
  negative: 'processor counter was incremented by a negative number (a counter only goes up: observe() a value that can go down)',
  labelType: 'processor metric got labels that are not an object of strings (a label value that is an object, a function, a symbol, undefined or null has no text)',
};

/** What to do about each drop: the limits want fewer series, the rest a fix of the call. */
const DROP_ADVICE: Partial<Record<MetricDropReason, string>> = {
  number: 'Pass a finite number (Number(x) for a BigInt or a string)',
  negative: 'Increment counters by 0 or more',
  labelType: 'Give label values as strings (String(x))',
};

/**
 * The coordinator's observability hooks: metrics into the pipeline's
 * MetricsHub and OpenTelemetry spans (`walrus.fetch`, `walrus.process`,
 * `walrus.produce`). Every call site in the runtime is one line calling
 * one of these methods, so the hot path stays readable and the cost of
 * observability sits in one file.
 *
 * Process spans are made here, from each record's result (start = arrival
 * minus the duration the worker measured), not inside the worker: an SDK
 * registered in the main thread then sees every span, workers need none, and
 * the outputs the coordinator routes carry the process span's `traceparent`.
 * With no SDK registered every span is a no-op and no header is touched.
 */
export class Instrumentation {
  readonly hub: MetricsHub | undefined;
  readonly #tracing: boolean;
  readonly #problemsLogged = new Set<string>();
  /** Dropped processor-metric updates last reported, per `threadId \0 metric` (the reports are cumulative). */
  readonly #dropped = new Map<string, number>();
  readonly #warn: (message: string, data: Record<string, unknown>) => void;

  /**
   * @param hub where metrics go; none: no metrics.
   * @param tracing make spans (no-op without an SDK); false skips even that.
   */
  constructor(hub: MetricsHub | undefined, tracing = true, warn: (message: string, data: Record<string, unknown>) => void = () => undefined) {
    this.hub = hub;
    this.#tracing = tracing;
    this.#warn = warn;
  }

  /** Starts the span of one fetch; records that carry no trace context join it (see {@link joinFetch}). */
  fetchSpan(source: string, topic: string, entries: number, startTime: number): Span | undefined {
    if (!this.#tracing || !tracingActive()) return undefined;
    return startSpan(SPAN_NAMES.fetch, { 'walrus.source': source, 'walrus.topic': topic, 'walrus.batch.size': entries }, {}, startTime);
  }

  /** Headers for a fetched record: its own, or (only when a span is recording) a copy that joins the fetch's trace. */
  joinFetch(span: Span | undefined, headers: RecordHeaders): RecordHeaders {
    if (span === undefined || headers.traceparent !== undefined || !span.isRecording()) return headers;
    return injectTraceContext(span, { ...headers });
  }

  fetched(source: string, records: number, entries: readonly Buffer[]): void {
    if (!this.hub) return;
    let bytes = 0;
    for (const entry of entries) bytes += entry.length;
    this.hub.recordFetched(source, records, bytes);
  }

  /** True while process spans are recorded: stage groups then run member by member, one span per processor. */
  tracesProcessors(): boolean {
    return this.#tracing && tracingActive();
  }

  /** A batch left for a worker: how long each record waited since it was queued, by the member it enters at. */
  dispatched(group: GroupSpecWire, batch: readonly Job[], now: number): void {
    if (!this.hub) return;
    this.hub.observeBatch(group.name, batch.length);
    if (group.members.length === 1) {
      this.hub.observeQueueWait(group.name, batch.map((job) => now - (job.queuedAt ?? now)));
      return;
    }
    const waits = new Map<number, number[]>();
    for (const job of batch) {
      const list = waits.get(job.entry);
      if (list) list.push(now - (job.queuedAt ?? now));
      else waits.set(job.entry, [now - (job.queuedAt ?? now)]);
    }
    for (const [entry, list] of waits) this.hub.observeQueueWait(group.members[entry]!.name, list);
  }

  /**
   * A group batch came back: merges the worker's cumulative metrics (they
   * travel with every result, so a worker that dies later loses nothing it
   * reported), counts each member's successes with their durations, and —
   * while spans are recorded, when every record ran its entry member alone —
   * one process span per record, whose context the outputs carry on.
   */
  batchDone(group: GroupSpecWire, batch: readonly Job[], result: GroupBatchResult, endedAt: number): void {
    if (result.metrics && this.hub) {
      const id = result.metrics.threadId;
      let problems: ReturnType<MetricsHub['mergeWorkerSnapshot']>;
      try {
        problems = this.hub.mergeWorkerSnapshot(id, fromLabelledSnapshot(result.metrics, String(id)));
      } catch (error) {
        // What processors counted must never end the run (this is called from the batch's result handling).
        problems = [{ metric: '(snapshot)', message: `processor metrics of worker thread ${id} could not be merged: ${(error as Error)?.message ?? String(error)}` }];
      }
      for (const problem of problems) {
        // Said once per metric, and for at most MAX_PROBLEMS_LOGGED of them (names can come from record data).
        if (this.#problemsLogged.has(problem.metric) || this.#problemsLogged.size >= MAX_PROBLEMS_LOGGED) continue;
        this.#problemsLogged.add(problem.metric);
        this.#warn('processor metric cannot be merged', { metric: problem.metric, problem: problem.message });
      }
      if (result.metrics.dropped) this.#metricUpdatesDropped(id, result.metrics.dropped, result.metrics.droppedWhy ?? {});
    }
    if (this.hub) for (const s of result.members) if (s.processed > 0) this.hub.recordProcessed(group.members[s.member]!.name, 'ok', s.processed, s.durations);
    if (this.#tracing && tracingActive()) this.#processSpans(group, batch, result, endedAt);
    for (const unit of result.packed) {
      const sizes = unit.compressed;
      if (sizes) for (let i = 0; i + 1 < sizes.length; i += 2) this.compressed(unit.sink, sizes[i]!, sizes[i + 1]!);
    }
  }

  #metricUpdatesDropped(threadId: number, dropped: Readonly<Record<string, number>>, why: Readonly<Record<string, MetricDropReason>>): void {
    for (const [metric, total] of Object.entries(dropped)) {
      const key = `${threadId}\0${metric}`;
      const before = this.#dropped.get(key) ?? 0;
      if (!(total > before)) continue; // a late or repeated report
      this.#dropped.set(key, total);
      this.hub?.recordMetricUpdatesDropped(metric, total - before);
      const reason = why[metric] ?? 'series';
      if (this.#problemsLogged.has(`dropped\0${metric}\0${reason}`) || this.#problemsLogged.size >= MAX_PROBLEMS_LOGGED) continue;
      this.#problemsLogged.add(`dropped\0${metric}\0${reason}`);
      const advice = DROP_ADVICE[reason];
      this.#warn(advice === undefined
        ? `${DROP_MESSAGES[reason] ?? DROP_MESSAGES.series}: updates past it are dropped (walrus_stream_metric_updates_dropped_total). ` +
          'Use a fixed set of metric names and short, bounded label values (a tier, a region, an outcome; not a record id) (docs/observability.md)'
        : `${DROP_MESSAGES[reason]}: such updates are dropped (walrus_stream_metric_updates_dropped_total). ${advice}`, { metric });
    }
  }

  /** One entry of `sink` was stored compressed (packed here or by a worker). */
  compressed(sink: string, originalBytes: number, compressedBytes: number): void {
    this.hub?.observeCompression(sink, originalBytes, compressedBytes);
  }

  #processSpans(group: GroupSpecWire, batch: readonly Job[], result: GroupBatchResult, endedAt: number): void {
    const worker = result.metrics?.threadId;
    const failed = new Map<number, GroupBatchResult['failures'][number]>();
    for (const f of result.failures) if (f.hops.length === 0) failed.set(f.index, f);
    // Records the task spilled whole did not run here: their span comes with the task that runs them.
    let whole: Set<number> | undefined;
    for (const x of result.exits) if (x.spilled === true && x.hops.length === 0) (whole ??= new Set()).add(x.index);
    for (let i = 0; i < batch.length; i++) {
      const job = batch[i]!;
      // Nor did the entry member of a spilled chain's continuation (it ran the chain's remaining steps).
      if (whole?.has(i) === true || job.resume !== undefined) continue;
      const span = startSpan(SPAN_NAMES.process, {
        'walrus.processor': group.members[job.entry]!.name, 'walrus.record.id': job.record.id, 'walrus.attempt': job.attempt,
        ...(worker === undefined ? {} : { 'walrus.worker.id': worker }),
      }, job.record.headers, endedAt - (result.entryDurations[i] ?? 0));
      if (!span.isRecording()) { span.end(); continue; }
      const failure = failed.get(i);
      if (failure === undefined) {
        for (const exit of result.exits) if (exit.index === i && exit.headers) injectTraceContext(span, exit.headers);
        // Outputs without headers of their own take the record's (and the
        // produce span of a sink the worker packed for takes its parent from
        // them): after success, the record's headers carry this span.
        job.record.headers = injectTraceContext(span, { ...job.record.headers });
      } else {
        recordSpanError(span, Object.assign(new Error(failure.error.message), { code: failure.error.code }));
      }
      span.end(endedAt);
    }
  }

  /**
   * A worker thread ended: its processor-metric totals stay counted, and what was kept to merge its next snapshot
   * goes. Kept for every thread ever, a pool recycling its threads (`recycleAfterTasks`) grew by one set of series
   * per thread for the whole run.
   */
  threadEnded(threadId: number): void {
    this.hub?.retireWorker(threadId, String(threadId));
    for (const key of this.#dropped.keys()) if (key.startsWith(`${threadId}\0`)) this.#dropped.delete(key);
  }

  retried(processor: string): void {
    this.hub?.recordRetried(processor);
  }

  /** A record failed for good (before its dead letter is written): outcome `timeout` or `error`. */
  failed(processor: string, error: SerializedError): void {
    this.hub?.recordProcessed(processor, error.code === 'PROCESSOR_TIMEOUT' ? 'timeout' : 'error', 1);
  }

  deadLettered(processor: string): void {
    this.hub?.recordDeadLettered(processor, 1);
  }

  /** Starts the span of one write to a sink or dead-letter topic, parented by the first record's trace. */
  produceSpan(sink: string, topic: string, records: number, parent: RecordHeaders | undefined, deadLetter = false): Span | undefined {
    if (!this.#tracing || !tracingActive()) return undefined;
    return startSpan(SPAN_NAMES.produce, {
      'walrus.sink': sink, 'walrus.topic': topic, 'walrus.batch.size': records, 'walrus.dead_letter': deadLetter,
    }, parent ?? {});
  }

  /** A sink write was acknowledged. */
  emitted(sink: string, records: number, entries: readonly string[], timestamps: readonly number[]): void {
    if (!this.hub) return;
    let bytes = 0;
    for (const entry of entries) bytes += Buffer.byteLength(entry);
    this.hub.recordEmitted(sink, records, { bytes, recordTimestamps: timestamps });
  }

  error(component: string, error: unknown): void {
    const code = (error as { code?: unknown })?.code;
    this.hub?.recordError(component, typeof code === 'string' ? code : 'INTERNAL_ERROR');
  }
}

/** Ends `span`, marking it failed when `error` is given. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) recordSpanError(span, error);
  span.end();
}
