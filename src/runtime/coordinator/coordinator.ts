import type { Logger } from 'pino';
import { serializeError, type SerializedError } from '../../errors/index.js';
import type { SourceSpec, Topology } from '../../topology/types.js';
import { buildDeadLetter } from './dead-letter.js';
import { Ingest } from '../sources/ingest.js';
import type { ProcessorSpecWire, WireOutput } from '../wire/messages.js';
import type { BatchRunner, EntryWriter, JournalLike, OutRecord, RecordCodec, SourceReader } from '../pipeline/pipeline-io.js';
import { PipelineStats, type PipelineSummary } from './pipeline-stats.js';
import { ProcessorRunner, type Job } from './processor-runner.js';
import { buildRoutes, type Routes } from './routes.js';
import type { Ticket } from './ticket.js';
import { deriveRecordId } from '../wire/record-ids.js';
import { OutputWriters } from '../sinks/output-writers.js';
import { stateHooks, type RuntimeState } from '../state/runtime-state.js';
import { StreamTimes } from '../state/stream-time.js';
import type { Instrumentation } from '../pipeline/instrumentation.js';

/** Options of {@link Coordinator}. */
export interface CoordinatorOptions {
  topology: Topology;
  runner: BatchRunner;
  openSource(spec: SourceSpec): SourceReader;
  writer: EntryWriter;
  codec: RecordCodec;
  /** Makes fetched entries durable before processing. @default none (at-most-once across a crash) */
  journal?: JournalLike;
  /** Finish once every source is empty and nothing is in flight. @default false */
  untilIdle?: boolean;
  /** Most records in flight (decoded, not yet finished); fetching pauses above it. @default 20000 */
  maxInFlight?: number;
  /** Worker threads: partial batches go out at once while fewer batches than this are in flight. @default 1 */
  workers?: number;
  logger?: Logger;
  /** Metrics and spans (src/runtime/pipeline/instrumentation.ts). @default none */
  instrumentation?: Instrumentation;
  /** Keyed state stores of stateful processors (docs/state.md, "Wiring"). @default none */
  state?: RuntimeState;
  /**
   * Called once a dead letter was written (acknowledged by the node), with
   * the entry as written: the dashboard keeps the latest ones. Must not throw.
   * @default none
   */
  onDeadLetter?: (written: WrittenDeadLetter) => void;
  /** Seams for tests. */
  now?: () => number;
  random?: () => number;
}

/** A dead letter the coordinator wrote: the `deadLetter` topic and the entry text (see dead-letter.ts). */
export interface WrittenDeadLetter { processor: string; topic: string; entry: string }

/**
 * Job bookkeeping the coordinator attaches to every record (`index`: the
 * record's position in its journal entry, for state ids; `path`: a derived
 * record's own state path, see RuntimeState.derive).
 */
export interface JobMeta { ticket: Ticket; raw: () => string; sourceTopic: string; index?: number; path?: string }

/**
 * The main-thread coordinator: owns all I/O, the in-flight bound, routing
 * between processors and sinks, dead-lettering and the journal (fetch →
 * journal.append → dispatch → sinks ack → journal.release). Workers only see
 * batches of records.
 */
export class Coordinator {
  readonly stats: PipelineStats;
  readonly #o: CoordinatorOptions;
  readonly #routes: Routes;
  readonly #runners = new Map<string, ProcessorRunner>();
  readonly #writers: OutputWriters;
  #stopping = false;
  #failed = false;
  readonly #ingest: Ingest;
  /** Stream time of windowed aggregate steps across keys, and the ticks that close quiet keys' windows. */
  readonly #streamTimes: StreamTimes | undefined;

  constructor(options: CoordinatorOptions) {
    this.#o = options;
    this.stats = new PipelineStats(options.now);
    this.#routes = buildRoutes(options.topology);
    const { topology } = options;
    this.#streamTimes = options.state && StreamTimes.create({
      topology, state: options.state, logger: options.logger, now: options.now,
      submit: (processor, job) => this.#runners.get(processor)!.submit(job),
      ticket: (processor) => this.#ingest.unjournaledTicket(processor),
    });
    for (const spec of Object.values(topology.processors)) {
      this.stats.processor(spec.name);
      this.#runners.set(spec.name, new ProcessorRunner({
        spec, wire: wireSpec(topology, spec.name), runner: options.runner, now: options.now, random: options.random,
        eagerBatches: options.workers, instrumentation: options.instrumentation,
        state: this.#streamTimes ? this.#streamTimes.hooks(spec.name, stateHooks(options.state, spec.name, spec.stores ?? []))
          : stateHooks(options.state, spec.name, spec.stores ?? []),
        onSuccess: (job, outputs, sunk, ms) => this.#onSuccess(spec.name, job, outputs, sunk, ms),
        onPacked: (sink, entries, jobs) => this.#onPacked(sink, entries, jobs),
        onDeadLetter: (job, error, at) => this.#onDeadLetter(spec.name, spec.deadLetter, job, error, at),
        stopping: () => this.#stopping,
        onAbandon: (job, error) => {
          this.stats.processor(spec.name).abandoned += 1;
          (job.meta as JobMeta).ticket.fail(error);
        },
        onRetry: (job, error, delay) => {
          this.stats.processor(spec.name).retries += 1;
          options.instrumentation?.retried(spec.name);
          options.logger?.debug({ processor: spec.name, recordId: job.record.id, attempt: job.attempt, delay, err: error.message }, 'retrying record');
        },
      }));
    }
    this.#writers = new OutputWriters({
      topology, codec: options.codec, writer: options.writer, stats: this.stats, logger: options.logger, instrumentation: options.instrumentation,
    });
    this.#ingest = new Ingest({
      ...options,
      routes: this.#routes,
      stats: this.stats,
      submit: (processor, job) => this.#submit(processor, job),
      deadLetterEntry: (topic, entry) => this.#writers.deadLetter(topic).add(entry)
        .then(() => options.onDeadLetter?.({ processor: '(decode)', topic, entry })),
      flushOutputs: () => this.#writers.flushAll(),
      afterRecover: () => this.#streamTimes?.start(),
    });
    // A stateful entry whose output could not be written for good (or whose state could not be
    // committed) stops the pipeline: its state is not committed and it stays in the journal.
    options.state?.onFatal((error) => {
      if (this.#stopping) {
        options.logger?.warn({ err: error.message }, 'state change not committed during shutdown; the entry stays in the journal');
        return;
      }
      options.logger?.fatal({ err: error.message }, 'stateful record could not be completed: stopping');
      this.fail(error);
    });
  }

  #submit(processor: string, job: Job): void {
    // A recovered record whose state commit made it before the crash (but its release did not): the processor skips it.
    if (this.#o.state?.alreadyApplied(processor, job.meta as JobMeta)) { (job.meta as JobMeta).ticket.done(); return; }
    this.#runners.get(processor)!.submit(job);
  }

  /** Topics the pipeline writes to (sinks and dead letters): register them before `run`. */
  outputTopics(): string[] {
    const topics = new Set<string>(Object.values(this.#o.topology.sinks).map((s) => s.topic));
    for (const p of Object.values(this.#o.topology.processors)) topics.add(p.deadLetter);
    return [...topics];
  }

  /** Runs until idle (with `untilIdle`) or until `stop()`; resolves with the summary after draining. */
  async run(): Promise<PipelineSummary> {
    this.stats.startClock();
    await this.#ingest.run();
    return this.snapshot();
  }

  /** Stops fetching; `run()` resolves once what is in flight has finished and been flushed. */
  stop(): void {
    this.#stopping = true;
    this.#ingest.stop();
  }

  /**
   * Ends the run at once with `error` (a worker crash loop): `run()` rejects
   * with it without waiting for what is in flight, which stays unreleased in
   * the journal (or unacknowledged on the node) for the next start.
   */
  fail(error: Error): void {
    this.#failed = true;
    this.stop();
    this.#ingest.fail(error);
  }

  /** Records queued or running per processor (the dashboard's per-processor in-flight). */
  pending(): Record<string, number> {
    return Object.fromEntries([...this.#runners].map(([name, runner]) => [name, runner.pending]));
  }

  snapshot(): PipelineSummary {
    return this.stats.snapshot(this.#ingest.inFlight);
  }

  #onSuccess(processor: string, job: Job, outputs: WireOutput[], sunk: number, durationMs: number): void {
    const meta = job.meta as JobMeta;
    const counts = this.stats.processor(processor);
    // A stream-time tick (stream-time.ts) is not a record: only its outputs count.
    if (!StreamTimes.isTick(job)) {
      counts.processed += 1;
      counts.busyMs += durationMs;
      if (outputs.length + sunk === 0) counts.dropped += 1;
    }
    counts.emitted += outputs.length + sunk;
    outputs.forEach((out, i) => {
      const ref = `${processor}.${out.output}`;
      const targets = this.#routes.byOutput.get(ref);
      const id = deriveRecordId(job.record.id, processor, out.index ?? i);
      // Absent key/headers mean "the input's" (results stay small on the wire).
      const key = 'key' in out ? out.key : job.record.key;
      const headers = out.headers ?? job.record.headers;
      const readers = targets?.processors ?? [];
      const childMeta = readers.length > 0 && this.#o.state ? this.#o.state.derive(processor, meta, out.index ?? i) : meta;
      for (const name of readers) {
        meta.ticket.add();
        this.#submit(name, {
          record: { id, key, value: out.value, headers, timestamp: job.record.timestamp, source: ref },
          key, attempt: 1, meta: childMeta,
        });
      }
      for (const name of targets?.sinks ?? []) this.#toSink(processor, name, job, { id, key, headers, value: out.value });
    });
    meta.ticket.done();
  }

  /** Serializes one output for a sink (a value the serializer refuses, or too large for an entry, dead-letters the input record) and queues it. */
  #toSink(processor: string, sinkName: string, job: Job, out: Omit<OutRecord, 'value' | 'timestamp'> & { value: unknown }): void {
    const meta = job.meta as JobMeta;
    const sink = this.#o.topology.sinks[sinkName];
    let record: OutRecord;
    try {
      record = { ...out, value: this.#o.codec.serialize(sink, out.value), timestamp: job.record.timestamp };
      // An output that can never be written (too large for one entry, not valid plain text) is
      // dead-lettered here, alone: encoded in the sink's batch it would fail every record in it.
      this.#o.codec.assertFits?.(sink, record);
    } catch (error) {
      meta.ticket.add();
      this.#onDeadLetter(processor, this.#o.topology.processors[processor].deadLetter, job, serializeError(error), (this.#o.now ?? Date.now)());
      return;
    }
    meta.ticket.add();
    if (this.#failed) { meta.ticket.fail(); return; }
    this.#writers.sink(sinkName).push(record, (error) => {
      if (error === undefined) { meta.ticket.done(); return; }
      this.#o.logger?.error({ err: serializeError(error), sink: sinkName, recordId: out.id }, 'sink write failed; the entry stays in the journal');
      meta.ticket.fail(error);
    });
  }

  #onDeadLetter(processor: string, topic: string, job: Job, error: SerializedError, lastFailureAt: number): void {
    const meta = job.meta as JobMeta;
    // After a fatal crash loop nothing is dead-lettered: the records stay in the journal.
    if (this.#failed) { meta.ticket.fail(); return; }
    this.stats.processor(processor).deadLettered += 1;
    this.#o.instrumentation?.failed(processor, error);
    this.#o.logger?.warn({ processor, recordId: job.record.id, code: error.code, err: error.message, topic }, 'record dead-lettered');
    let entry: string;
    try {
      entry = buildDeadLetter({
        entry: meta.raw(), error, processor, attempts: job.attempt, firstFailureAt: job.firstFailureAt ?? lastFailureAt,
        lastFailureAt, sourceTopic: meta.sourceTopic, recordId: job.record.id, key: job.record.key,
      });
    } catch (buildError) {
      this.#o.logger?.error({ err: serializeError(buildError), recordId: job.record.id }, 'cannot build dead letter; the entry stays in the journal');
      meta.ticket.fail(buildError);
      return;
    }
    this.#writers.deadLetter(topic).add(entry).then(() => {
      this.#o.instrumentation?.deadLettered(processor);
      this.#o.onDeadLetter?.({ processor, topic, entry });
      meta.ticket.done();
    }, (writeError: unknown) => meta.ticket.fail(writeError));
  }

  /** Entries a worker already packed: each job's ticket waits for their write. */
  #onPacked(sinkName: string, entries: string[], jobs: Job[]): void {
    const tickets = jobs.map((job) => (job.meta as JobMeta).ticket);
    for (const ticket of tickets) ticket.add();
    // After a fatal error the client is closing: results still coming back from workers are not
    // written (their entries stay in the journal) instead of failing write after write.
    if (this.#failed) { for (const ticket of tickets) ticket.fail(); return; }
    // Timestamps (end-to-end latency) and the first record's trace (produce span) of what the worker packed.
    const trace = this.#o.instrumentation && { timestamps: jobs.map((j) => j.record.timestamp), headers: jobs[0]?.record.headers };
    this.#writers.sink(sinkName).push({ entries, records: jobs.length, ...trace }, (error) => {
      if (error === undefined) { for (const ticket of tickets) ticket.done(); return; }
      this.#o.logger?.error({ err: serializeError(error), sink: sinkName }, 'sink write failed; the entries stay in the journal');
      for (const ticket of tickets) ticket.fail(error);
    });
  }
}

/** What a worker needs to know about a processor. */
export function wireSpec(topology: Topology, name: string): ProcessorSpecWire {
  const spec = topology.processors[name];
  const routes = buildRoutes(topology);
  // An output read only by sinks that share a serializer is serialized in
  // the worker: that CPU then scales with the pool instead of loading the
  // coordinator's one thread.
  const sinks: NonNullable<ProcessorSpecWire['sinks']> = {};
  for (const output of spec.outputs) {
    const targets = routes.byOutput.get(`${name}.${output}`);
    if (!targets || targets.processors.length > 0 || targets.sinks.length === 0) continue;
    sinks[output] = targets.sinks.map((s) => {
      const sink = topology.sinks[s];
      return {
        name: sink.name, topic: sink.topic, format: sink.format, serializer: sink.serializer,
        compression: sink.compression.codec, compressionThreshold: sink.compression.threshold,
      };
    });
  }
  return {
    name, module: spec.modulePath, config: spec.config, outputs: spec.outputs, timeoutMs: spec.timeout,
    logLevel: topology.observability.logLevel, sinks, app: topology.app, redactHeaders: topology.observability.redactHeaders,
  };
}
