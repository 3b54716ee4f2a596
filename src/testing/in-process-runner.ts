/**
 * The worker side of the pipeline, run in the test's own thread: the one
 * file of the test driver that knows how a worker handles a task (so when
 * the worker/wire internals change, this is what follows them).
 *
 * It runs the worker's own code — processor loading and `init`
 * (LoadedProcessors), `runRecord`, the SinkPacker — and puts every batch and
 * result through the real wire encoding, so what a processor receives and
 * what the coordinator gets back are copies exactly as they would cross a
 * thread: a processor that mutates its input, or returns something that
 * cannot cross (a function), behaves as under `run`.
 *
 * Differences from the worker pool, by design: there is no thread to
 * terminate, so a processor that ignores its signal past its timeout plus
 * the grace is failed with PROCESSOR_TIMEOUT and left running; timeouts are
 * measured on the driver's virtual clock.
 */
import { WalrusError, serializeError } from '../errors/index.js';
import type { BatchRunner } from '../runtime/pipeline/pipeline-io.js';
import { decodeBatch, decodeResult, encodeBatch, type GroupBatchResult, type GroupSpecWire, type ProcessorSpecWire,
  type TaskRecord, type WireRecord, type WireResult } from '../runtime/wire/messages.js';
import { LoadedProcessors, type LoadedProcessor } from '../runtime/worker/loaded-processors.js';
import { WorkerMetrics } from '../runtime/worker/processor-metrics.js';
import { runRecord } from '../runtime/worker/run-record.js';
import { SinkPacker } from '../runtime/worker/sink-packer.js';
import { runGroupBatch } from '../runtime/worker/stage-chain.js';
import { encodeGroupResult } from '../runtime/worker/result-encoding.js';
import type { VirtualClock } from './virtual-clock.js';

export interface InProcessRunnerOptions {
  clock: VirtualClock;
  /** How long past its timeout a processor that ignores `ctx.signal` is given before its record fails (workerPool.timeoutGrace). */
  timeoutGraceMs: number;
}

/**
 * Told a processor's name each time a runner enters its `init` or `process`
 * (`walrus-stream test` runs each case in a worker thread and, when the case
 * passes its deadline, names the processor that thread was last in).
 */
let onEnter: ((processor: string) => void) | undefined;

/** Sets (or with undefined clears) the hook told which processor a runner enters. */
export function watchProcessorEntry(hook: ((processor: string) => void) | undefined): void {
  onEnter = hook;
}

/** A BatchRunner that runs the worker's task code in the calling thread. */
export class InProcessRunner implements BatchRunner {
  readonly #o: InProcessRunnerOptions;
  readonly #processors = new LoadedProcessors(new WorkerMetrics());
  readonly #sinks = new SinkPacker();
  readonly #inFlight = new Set<AbortController>();
  /** Batches being processed now. */
  active = 0;
  /** Batches finished since start (the driver watches it to tell progress from a hang). */
  finished = 0;

  constructor(options: InProcessRunnerOptions) {
    this.#o = options;
  }

  /** Imports the module and runs `init`, as the pool does before the first fetch (a broken module fails here). */
  async load(spec: ProcessorSpecWire): Promise<void> {
    onEnter?.(spec.name);
    await this.#processors.get(spec);
  }

  async process(group: GroupSpecWire, records: TaskRecord[]): Promise<GroupBatchResult> {
    this.active += 1;
    try {
      // Through the wire encoding both ways, as a task and its result would travel.
      const inWorker = decodeBatch(encodeBatch(records));
      const result = await runGroupBatch({
        group, records: inWorker, processors: this.#processors, inFlight: this.#inFlight, packer: this.#sinks,
        run: (loaded, spec, record) => this.#runRecord(loaded, spec, record),
      });
      return decodeResult(encodeGroupResult(group, result));
    } finally {
      this.active -= 1;
      this.finished += 1;
    }
  }

  /** Runs every loaded processor's `close` hook. */
  close(): Promise<void> {
    return this.#processors.closeAll();
  }

  #runRecord(loaded: LoadedProcessor, spec: ProcessorSpecWire, record: WireRecord): WireResult | Promise<WireResult> {
    // The record's own (real-time) timer is off: the virtual one below replaces it.
    const controllers = new Set<AbortController>();
    onEnter?.(spec.name);
    const result = runRecord(loaded, { ...spec, timeoutMs: 0 }, record, controllers);
    return result instanceof Promise && spec.timeoutMs > 0 ? this.#withTimeout(spec, record, result, controllers) : result;
  }
  /** Per-record timeout on the virtual clock: the signal fires at the deadline; past the grace the record fails regardless. */
  #withTimeout(spec: ProcessorSpecWire, record: WireRecord, work: Promise<WireResult>, controllers: Set<AbortController>): Promise<WireResult> {
    const { clock, timeoutGraceMs } = this.#o;
    const timeout = new WalrusError('PROCESSOR_TIMEOUT', `processor "${spec.name}" did not finish record ${record.id} within ${spec.timeoutMs} ms`);
    let timedOut = false;
    let graceTimer: number | undefined;
    const deadline = clock.setTimer(() => {
      timedOut = true;
      for (const controller of controllers) controller.abort(timeout);
    }, spec.timeoutMs);
    const forced = new Promise<WireResult>((resolve) => {
      graceTimer = clock.setTimer(() => resolve({ ok: false, error: serializeError(timeout), durationMs: spec.timeoutMs + timeoutGraceMs }),
        spec.timeoutMs + timeoutGraceMs);
    });
    // A processor that resolves after its signal fired makes runRecord reject (the abort reason): still a timeout.
    const settled = work.then((result) => (timedOut && !result.ok ? { ...result, error: serializeError(timeout) } : result),
      (error: unknown): WireResult => ({ ok: false, error: serializeError(timedOut ? timeout : error), durationMs: spec.timeoutMs }));
    return Promise.race([settled, forced]).finally(() => {
      clock.clear(deadline);
      if (graceTimer !== undefined) clock.clear(graceTimer);
    });
  }
}
