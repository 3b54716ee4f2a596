import { WalrusError, serializeError, type SerializedError } from '../../errors/index.js';
import type { ProcessorSpec } from '../../topology/types.js';
import { retryDelay } from './backoff.js';
import type { ProcessorSpecWire, WireOutput, WireRecord } from '../wire/messages.js';
import { OrderingScheduler } from './ordering-scheduler.js';
import type { BatchRunner } from '../pipeline/pipeline-io.js';
import type { Instrumentation } from '../pipeline/instrumentation.js';
import type { StatePreload, StateWrites } from '../../state/worker-state.js';

/** How a stateful processor's records get their key's state and hand back their writes (bound to the processor). */
export interface StateHooks {
  preload(job: Job): StatePreload[] | undefined;
  /**
   * Stages the writes synchronously; an error refuses them (the record then
   * fails instead). `sent`: the preload the task carried (the staleness check).
   */
  accept(job: Job, writes: StateWrites[] | undefined, sent: StatePreload[] | undefined): SerializedError | undefined;
}

/** A record travelling through one processor. */
export interface Job {
  record: Omit<WireRecord, 'attempt'>;
  readonly key?: string;
  attempt: number;
  firstFailureAt?: number;
  /** Its batch's worker died: run it alone from now on, so one crashing record cannot take its neighbours down with it. */
  isolate?: boolean;
  /** Opaque to the runner: the coordinator's bookkeeping (ticket, raw bytes). */
  readonly meta: unknown;
  /** When it was queued in this processor (epoch ms, for the queue-wait histogram). */
  queuedAt?: number;
}

export interface ProcessorRunnerOptions {
  spec: ProcessorSpec;
  wire: ProcessorSpecWire;
  runner: BatchRunner;
  /** `outputs` to route; `sunk` outputs already packed into sink entries (see `onPacked`). */
  onSuccess(job: Job, outputs: WireOutput[], sunk: number, durationMs: number): void;
  /** Entries a worker packed for `sink`, holding outputs of `jobs` (one job per packed record). */
  onPacked(sink: string, entries: string[], jobs: Job[]): void;
  onDeadLetter(job: Job, error: SerializedError, lastFailureAt: number): void;
  onRetry?(job: Job, error: SerializedError, delayMs: number): void;
  /** A record cut short by shutdown: neither retried nor dead-lettered (it stays in the journal). */
  onAbandon?(job: Job, error: SerializedError): void;
  /** True once the pipeline is stopping. @default () => false */
  stopping?(): boolean;
  /**
   * Batches in flight below which a partial batch is sent at once (usually
   * the number of worker threads). @default 1
   */
  eagerBatches?: number;
  /** Seams for tests. */
  now?: () => number;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  /** Metrics and spans (src/runtime/pipeline/instrumentation.ts). @default none */
  instrumentation?: Instrumentation;
  /** Keyed state of a stateful processor (src/runtime/state/runtime-state.ts). @default none */
  state?: StateHooks;
}

/**
 * Runs one processor: orders records (`key`/`unordered`), packs them into
 * batches of up to `batchSize`, keeps at most `concurrency` batches in flight,
 * and handles each record's outcome on its own: success, retry after backoff
 * with jitter, or dead letter (attempts exhausted or non-retriable). A
 * failing record never re-runs its batch neighbours.
 */
export class ProcessorRunner {
  readonly #o: ProcessorRunnerOptions;
  readonly #scheduler: OrderingScheduler<Job>;
  readonly #now: () => number;
  #batchesInFlight = 0;
  #pumpScheduled = false;
  /** Records dispatched or waiting out a retry delay. */
  #active = 0;

  constructor(options: ProcessorRunnerOptions) {
    this.#o = options;
    this.#scheduler = new OrderingScheduler<Job>(options.spec.ordering);
    this.#now = options.now ?? Date.now;
  }

  get name(): string {
    return this.#o.spec.name;
  }

  /** Records queued or in flight here. */
  get pending(): number {
    return this.#scheduler.queued + this.#active;
  }

  submit(job: Job): void {
    if (this.#o.instrumentation) job.queuedAt = Date.now();
    this.#scheduler.enqueue(job);
    // Pump once per tick, not per record: an upstream batch hands over its
    // outputs synchronously, and pumping on each would send batches of one.
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      queueMicrotask(() => { this.#pumpScheduled = false; this.#pump(); });
    }
  }

  #pump(): void {
    const { concurrency, batchSize } = this.#o.spec;
    const eager = this.#o.eagerBatches ?? 1;
    while (this.#batchesInFlight < concurrency) {
      const ready = this.#scheduler.ready;
      // A partial batch goes out only while few batches are in flight; past
      // that, records wait for a batch to come back and leave together.
      // Sending every trickle at once made batches of a few records, and
      // each task costs a thread message.
      if (ready === 0 || (ready < batchSize && this.#batchesInFlight >= eager)) break;
      const taken = this.#scheduler.take(batchSize);
      if (taken.length === 0) break;
      const batch = taken.filter((job) => !job.isolate);
      for (const job of taken) if (job.isolate) this.#dispatch([job]);
      if (batch.length > 0) this.#dispatch(batch);
    }
  }

  #dispatch(batch: Job[]): void {
    this.#batchesInFlight += 1;
    this.#active += batch.length;
    this.#o.instrumentation?.dispatched(this.name, batch, Date.now());
    void this.#run(batch);
  }

  async #run(batch: Job[]): Promise<void> {
    const state = this.#o.state;
    // Only a stateful processor's records carry `state` (an absent key costs nothing on the wire).
    // One literal of a fixed shape per record (a spread copies generically, and it showed in profiles).
    const wire = new Array<WireRecord>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const job = batch[i]!;
      const r = job.record;
      wire[i] = { id: r.id, key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, source: r.source,
        attempt: job.attempt, encoding: r.encoding, state: state ? state.preload(job) : undefined };
    }
    try {
      const result = await this.#o.runner.process(this.#o.wire, wire);
      const { results, packed } = result;
      this.#o.instrumentation?.batchDone(this.name, batch, result, Date.now());
      // Packed sink entries first: they add to the records' tickets before
      // the records' own completion could finish a ticket.
      for (const unit of packed) this.#o.onPacked(unit.sink, unit.entries, unit.records.map((i) => batch[i]));
      batch.forEach((job, i) => {
        const result = results[i];
        const refused = result?.ok ? this.#o.state?.accept(job, result.state, wire[i]!.state) : undefined;
        if (result?.ok && refused === undefined) this.#succeed(job, result.outputs, result.sunk ?? 0, result.durationMs);
        else if (refused !== undefined) this.#fail(job, refused);
        else this.#fail(job, result && !result.ok ? result.error : serializeError(new WalrusError('INTERNAL_ERROR', 'worker returned too few results')));
      });
    } catch (error) {
      // The worker itself died (or was terminated past a deadline): the batch
      // is split and each record runs alone from now on, without spending an
      // attempt — only a record that kills its worker alone is charged one,
      // so a poison record ends in the dead letters and its neighbours flow on.
      const data = serializeError(error);
      for (const job of batch) {
        if (batch.length === 1) { this.#fail(job, data); continue; }
        job.isolate = true;
        this.#active -= 1;
        this.#scheduler.requeue(job);
      }
    } finally {
      this.#batchesInFlight -= 1;
      this.#pump();
    }
  }

  #succeed(job: Job, outputs: WireOutput[], sunk: number, durationMs: number): void {
    this.#active -= 1;
    this.#scheduler.complete(job);
    this.#o.onSuccess(job, outputs, sunk, durationMs);
  }

  #fail(job: Job, error: SerializedError): void {
    if (error.code === 'SHUTTING_DOWN' && this.#o.stopping?.() && this.#o.onAbandon) {
      this.#active -= 1;
      this.#scheduler.complete(job);
      this.#o.onAbandon(job, error);
      return;
    }
    const now = this.#now();
    job.firstFailureAt ??= now;
    const attempts = this.#o.spec.retry.attempts;
    if (error.retriable && job.attempt < attempts) {
      const delay = retryDelay(this.#o.spec.retry, job.attempt, (this.#o.random ?? Math.random)());
      this.#o.onRetry?.(job, error, delay);
      const setTimer = this.#o.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
      setTimer(() => {
        job.attempt += 1;
        this.#active -= 1;
        this.#scheduler.requeue(job);
        this.#pump();
      }, delay);
      return;
    }
    this.#active -= 1;
    this.#scheduler.complete(job);
    this.#o.onDeadLetter(job, error, now);
  }
}
