import type { Logger } from 'pino';
import { deserializeError, serializeError, type SerializedError } from '../../errors/index.js';
import { planStageGroups, type StageGroup } from '../../topology/stage-groups.js';
import type { SourceSpec, Topology } from '../../topology/types.js';
import { buildDeadLetter, omitsEntry } from './dead-letter.js';
import { Ingest, type IngestOptions } from '../sources/ingest.js';
import type { ExitRecord, GroupBatchResult, UnitFailure } from '../wire/messages.js';
import type { BatchRunner, EntryWriter, JournalLike, RecordCodec, SourceReader } from '../pipeline/pipeline-io.js';
import { PipelineStats, type PipelineSummary } from './pipeline-stats.js';
import { StageRunner, type Job, type StateHooks } from './stage-runner.js';
import { buildRoutes, type Routes } from './routes.js';
import type { Ticket } from './ticket.js';
import { OutputWriters } from '../sinks/output-writers.js';
import { stateHooks, type RuntimeState } from '../state/runtime-state.js';
import { StreamTimes } from '../state/stream-time.js';
import type { Instrumentation } from '../pipeline/instrumentation.js';
import { groupSpec } from './group-spec.js';
import { Backpressure, PROBE_RECORDS } from './backpressure.js';
import { GroupNotices } from './group-notices.js';

export { wireSpec } from './group-spec.js';

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
  /** Origins of records crossing repartition topics (src/runtime/sources/repartition-origin.ts). @default none */
  origins?: IngestOptions['origins'];
  /**
   * Called once a dead letter was written (acknowledged by the node), with
   * the entry as written: the dashboard keeps the latest ones. Must not throw.
   * @default none
   */
  onDeadLetter?: (written: WrittenDeadLetter) => void;
  /** Seams for tests. */
  now?: () => number;
  random?: () => number;
  /** Schedules retry backoffs (a virtual clock in the test driver, src/testing). @default setTimeout */
  setTimer?: (fn: () => void, ms: number) => unknown;
}

/** A dead letter the coordinator wrote: the `deadLetter` topic and the entry text (see dead-letter.ts). */
export interface WrittenDeadLetter { processor: string; topic: string; entry: string }

/**
 * Job bookkeeping the coordinator attaches to every record (`index`: the
 * record's position in its journal entry, for state ids; `path`: a derived
 * record's own state path, see RuntimeState.derive).
 */
export interface JobMeta { ticket: Ticket; raw: () => string; sourceTopic: string; index?: number; path?: string }

/** Where one processor runs: its stage group's runner and its index among the members. */
interface Placement { group: StageGroup; runner: StageRunner; index: number }

/**
 * The main-thread coordinator: owns all I/O, the in-flight bound, routing
 * between stage groups and to sinks, dead-lettering and the journal (fetch →
 * journal.append → dispatch to a stage group → sinks ack → journal.release).
 * Workers only see batches of records: a record crosses threads once per
 * stage group it passes (docs/pipeline.md, "Stage groups").
 */
export class Coordinator {
  readonly stats: PipelineStats;
  /** The stage groups the topology runs as (src/topology/stage-groups.ts). */
  readonly groups: readonly StageGroup[];
  readonly #o: CoordinatorOptions;
  readonly #routes: Routes;
  readonly #placement = new Map<string, Placement>();
  readonly #hooks = new Map<string, StateHooks>();
  readonly #writers: OutputWriters;
  /** Backpressure between groups and sinks (backpressure.ts). */
  readonly #pressure: Backpressure;
  /** Once-per-run logs of what groups did unannounced (spills, undeclared re-keys). */
  readonly #notices: GroupNotices;
  #stopping = false;
  #failed = false;
  readonly #ingest: Ingest;
  /** Stream time of windowed aggregate steps across keys, and the ticks that close quiet keys' windows. */
  readonly #streamTimes: StreamTimes | undefined;

  constructor(options: CoordinatorOptions) {
    this.#o = options;
    this.stats = new PipelineStats(options.now);
    this.#notices = new GroupNotices(options.logger);
    this.#routes = buildRoutes(options.topology);
    const { topology } = options;
    this.groups = planStageGroups(topology);
    this.#streamTimes = options.state && StreamTimes.create({
      topology, state: options.state, logger: options.logger, now: options.now,
      submit: (processor, job) => this.#submitAt(processor, job),
      ticket: (processor) => this.#ingest.unjournaledTicket(processor),
    });
    const runners: StageRunner[] = [];
    for (const group of this.groups) {
      const hooks = group.members.map((name) => {
        const inner = stateHooks(options.state, name, topology.processors[name].stores);
        const hook = this.#streamTimes ? this.#streamTimes.hooks(name, inner) : inner;
        if (hook) this.#hooks.set(name, hook);
        return hook;
      });
      for (const name of group.members) this.stats.processor(name);
      const runner = new StageRunner({
        group, wire: groupSpec(topology, group, this.#routes), specs: group.members.map((m) => topology.processors[m]),
        runner: options.runner, hooks, now: options.now, random: options.random, setTimer: options.setTimer, eagerBatches: options.workers,
        instrumentation: options.instrumentation,
        held: () => this.#pressure.held(group),
        batchLimit: () => (this.#pressure.probing(group) ? PROBE_RECORDS : undefined),
        onBatchDone: () => this.#pressure.wake(),
        onResult: (batch, result) => this.#onResult(group, batch, result),
        continuation: (job, at) => this.#continuation(group, job, at),
        onDeadLetter: (member, job, error, at) => this.#onDeadLetter(member, topology.processors[member].deadLetter, job, error, at),
        onSettled: (job) => (job.meta as JobMeta).ticket.done(),
        stopping: () => this.#stopping,
        stepwise: () => options.instrumentation?.tracesProcessors() ?? false,
        onAbandon: (member, job, error) => { this.stats.processor(member).abandoned += 1; (job.meta as JobMeta).ticket.abandon(error); },
        onRetry: (member, job, error, delay) => {
          this.stats.processor(member).retries += 1; options.instrumentation?.retried(member);
          options.logger?.debug({ processor: member, recordId: job.record.id, attempt: job.attempt, delay, err: error.message }, 'retrying record');
        },
      });
      group.members.forEach((name, index) => this.#placement.set(name, { group, runner, index }));
      runners.push(runner);
    }
    this.#writers = new OutputWriters({
      topology, codec: options.codec, writer: options.writer, stats: this.stats, logger: options.logger, instrumentation: options.instrumentation,
      onWritten: () => this.#pressure.wake(),
    });
    this.#pressure = new Backpressure({
      topology, placement: (processor) => this.#placement.get(processor)!, runners, maxInFlight: options.maxInFlight ?? 20_000,
      sinkBacklog: () => this.#writers.sinkBacklog(), logger: options.logger,
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
    const meta = job.meta as JobMeta;
    // A recovered record whose state commit made it before the crash (but its release did not): the processor skips it.
    if (this.#o.state?.alreadyApplied(processor, meta)) { meta.ticket.done(); return; }
    // A recovered record runs member by member, so each member can be skipped where it already committed.
    if (this.#o.state?.isRecovered(meta)) job.single = true;
    this.#submitAt(processor, job);
  }

  /** Hands `job` to its processor's stage group, entering at that processor. */
  #submitAt(processor: string, job: Job): void {
    const place = this.#placement.get(processor)!;
    job.entry = place.index;
    place.runner.submit(job);
  }

  /** The backpressure gauges: sink records not yet acknowledged, and per stage group (by name) whether it holds back its batches now. */
  backpressure(): { sinkBacklog: number; waiting: Record<string, boolean> } {
    return this.#pressure.snapshot();
  }

  /** Runs until idle (with `untilIdle`) or until `stop()`; resolves with the summary after draining. */
  async run(): Promise<PipelineSummary> {
    this.stats.startClock();
    await this.#ingest.run();
    return this.snapshot();
  }

  /**
   * Stops fetching; `run()` resolves once what is in flight has finished and been flushed. With `cutShort` (the
   * stop's abort point), records waiting out a retry backoff are not waited for: they stay in the journal.
   */
  stop(cutShort = false): void {
    this.#stopping = true;
    this.#ingest.stop();
    if (cutShort) for (const { runner } of this.#placement.values()) runner.cutShort();
  }

  /**
   * Ends the run at once with `error` (a worker crash loop): `run()` rejects with it without waiting for what is
   * in flight, which stays unreleased in the journal (or unacknowledged on the node) for the next start; outputs
   * not yet sent are not (the client is closing).
   */
  fail(error: Error): void {
    this.#failed = true;
    this.#writers.abandonAll(error);
    this.stop(true);
    this.#ingest.fail(error);
  }

  /** Records queued or in a worker per stage group, keyed by the group's name (its head processor): the dashboard's in-flight. */
  pending(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { runner } of this.#placement.values()) out[runner.name] = runner.pending;
    return out;
  }

  /** Per windowed aggregate step: the size of its index of open windows (tests, debugging). */
  streamTimeIndex(): Record<string, { open: number; heap: number }> {
    return this.#streamTimes?.indexSizes() ?? {};
  }

  snapshot(): PipelineSummary {
    return this.stats.snapshot(this.#ingest.inFlight);
  }

  /**
   * A group batch came back: counts per member, packed sink entries, state
   * writes (staged before the key's next record can be dispatched), and
   * records leaving the group. Exits that continue in this group under the
   * key the record holds go back to the runner (`resume`).
   */
  #onResult(group: StageGroup, batch: Job[], result: GroupBatchResult): { resume: ExitRecord[]; refused: UnitFailure[]; skipped: Set<number> } {
    for (const s of result.members) {
      const counts = this.stats.processor(group.members[s.member]!);
      counts.processed += s.processed;
      counts.busyMs += s.busyMs;
      counts.dropped += s.dropped;
      counts.emitted += s.emitted;
    }
    // Packed sink entries first: they add to the records' tickets before anything could finish one.
    for (const unit of result.packed) this.#onPacked(unit.sink, unit.partition ?? 0, unit.entries, unit.records.map((i) => batch[i]!));
    const refused: UnitFailure[] = [];
    // Records of a run (stage-runner.ts) whose results are not taken: those the worker deferred (a record before
    // them in their run failed), and those after a record whose state was refused (they ran on state that is not).
    const skipped = new Set<number>(result.deferred);
    let index: Map<Job, number> | undefined;
    const at = (job: Job): number => (index ??= new Map(batch.map((j, i) => [j, i]))).get(job)!;
    const off = (job: Job): boolean => {
      if (skipped.size === 0) return false;
      for (let j: Job | undefined = job; j !== undefined; j = j.prev) {
        if (skipped.has(at(j))) { skipped.add(at(job)); return true; }
      }
      return false;
    };
    let seen: Set<number> | undefined;
    for (const unit of result.state) {
      const job = batch[unit.index]!;
      if (job.prev !== undefined && off(job)) continue;
      const member = group.members[unit.member]!;
      // The first unit of a member on a record is checked against the preload it was sent; later ones build on it.
      // A record that followed another of its run got no preload: it ran on the state the one before it left, which
      // is the key's state now (that one's writes were staged just before), and is checked against that.
      const mark = unit.index * 1024 + unit.member;
      const first = !(seen ??= new Set()).has(mark);
      seen.add(mark);
      const meta = this.#derive(group, job.meta as JobMeta, unit.hops);
      const unitJob: Job = unit.hops.length === 0 ? job : { ...job, meta, entry: unit.member, root: undefined };
      const hooks = this.#hooks.get(member);
      const sent = !first ? undefined : job.prev === undefined ? job.sent?.find((p) => p.member === unit.member)?.stores : hooks?.preload(unitJob);
      const error = hooks?.accept(unitJob, unit.writes, sent);
      if (error === undefined) continue;
      if (job.prev !== undefined || batch.some((j) => j.prev === job)) {
        // A record in a run: the records after it ran on the state it wrote; they run again once it is done.
        let next = batch.find((j) => j.prev === job);
        while (next !== undefined) { skipped.add(at(next)); const n: Job = next; next = batch.find((j) => j.prev === n); }
      }
      if (unit.hops.length === 0) { refused.push({ index: unit.index, member: unit.member, hops: [], attempt: job.attempt, error }); continue; }
      if (error.retriable !== true) {
        // Bad input met at a fused member, e.g. a key of a partition this instance does not own: the member fails
        // on that record, as an entry member would — dead-lettered, naming it, with the record's source entry.
        refused.push({ index: unit.index, member: unit.member, hops: unit.hops, attempt: job.attempt, error });
        continue;
      }
      // Fused members own their stores (stage-groups.ts), so a stale state only comes from a bug: keep the entry in
      // the journal (it runs again at the next start), and say so.
      this.#o.logger?.error({ processor: member, recordId: job.record.id, err: error.message }, 'state of a fused processor refused; the entry stays in the journal');
      meta.ticket.add();
      meta.ticket.fail(deserializeError(error));
    }
    const resume: ExitRecord[] = [];
    let left = 0;
    for (const exit of result.exits) {
      const job = batch[exit.index]!;
      if (job.prev !== undefined && off(job)) continue;
      const target = this.#placement.get(exit.target)!;
      const meta = this.#derive(group, job.meta as JobMeta, exit.hops);
      // A step its task spilled (it had derived enough): the rest of the chain continues under the key the record holds.
      if (exit.spilled === true) { this.#notices.spill(group); resume.push(exit); continue; }
      if (target.group === group && exit.key === job.key) {
        // A member that ran alone: the next one continues under the key the record holds.
        if (this.#o.state?.alreadyApplied(exit.target, meta)) continue;
        resume.push(exit);
        continue;
      }
      if (target.group === group) this.#notices.rekey(group, exit);
      else left += 1;
      meta.ticket.add();
      this.#submit(exit.target, {
        record: { id: exit.id, key: exit.key, value: exit.value, headers: exit.headers ?? job.record.headers, timestamp: job.record.timestamp, source: exit.source, encoding: exit.encoding },
        key: exit.key, attempt: 1, entry: 0, meta,
      });
    }
    let sunk = 0;
    for (const unit of result.packed) sunk += unit.records.length;
    this.#pressure.observe(group, batch.length, left, sunk);
    return { resume, refused, skipped };
  }

  /** The job that runs member `at.member` on `at.record` (or the job's own record) under the key `job` holds. */
  #continuation(group: StageGroup, job: Job, at: { member: number; hops: number[]; record?: UnitFailure['record'] | ExitRecord; attempt: number }): Job {
    const meta = this.#derive(group, job.meta as JobMeta, at.hops);
    const rec = at.record;
    const record = rec === undefined ? job.record
      : { id: rec.id, key: rec.key, value: rec.value, headers: rec.headers ?? job.record.headers, timestamp: job.record.timestamp, source: rec.source,
        // An exit's value is packed bytes (a failing member's input, from the worker, is not).
        encoding: 'encoding' in rec ? rec.encoding : undefined };
    meta.ticket.add();
    return {
      // A record whose batch's worker died runs alone from then on: its retries and its next members too.
      record, key: record.key, attempt: at.attempt, entry: at.member, single: job.single, isolate: job.isolate, meta, root: job.root ?? job,
      firstFailureAt: at.hops.length === 0 && at.member === job.entry ? job.firstFailureAt : undefined,
      // The record again at its entry: a spilled chain's continuation (retried after its worker crashed) keeps its remaining steps.
      resume: at.hops.length === 0 && at.member === job.entry && at.record === undefined ? job.resume : undefined,
    };
  }

  /** The bookkeeping of a record derived inside a group, from its (member, position) hops. */
  #derive(group: StageGroup, meta: JobMeta, hops: number[]): JobMeta {
    const state = this.#o.state;
    if (state === undefined) return meta;
    let m = meta;
    for (let k = 0; k + 1 < hops.length; k += 2) m = state.derive(group.members[hops[k]!]!, m, hops[k + 1]!);
    return m;
  }

  #onDeadLetter(processor: string, topic: string, job: Job, error: SerializedError, lastFailureAt: number): void {
    const meta = job.meta as JobMeta;
    if (StreamTimes.isTick(job)) { StreamTimes.tickFailed(processor, job, error, this.#o); meta.ticket.done(); return; }
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
    if (omitsEntry(entry)) {
      this.#o.logger?.error({ processor, recordId: job.record.id, topic, sourceTopic: meta.sourceTopic, entry: meta.raw() },
        'dead letter without its entry: too large to keep beside the failure in one entry, so it is logged here whole');
    }
    this.#writers.deadLetter(topic).add(entry).then(() => {
      this.#o.instrumentation?.deadLettered(processor);
      this.#o.onDeadLetter?.({ processor, topic, entry });
      meta.ticket.done();
    }, (writeError: unknown) => meta.ticket.fail(writeError));
  }

  /** Entries a worker packed: each job's ticket waits for their write. */
  #onPacked(sinkName: string, partition: number, entries: string[], jobs: Job[]): void {
    const tickets = jobs.map((job) => (job.meta as JobMeta).ticket);
    for (const ticket of tickets) ticket.add();
    // After a fatal error the client is closing: late results are not written (their entries stay in the journal).
    if (this.#failed) { for (const ticket of tickets) ticket.fail(); return; }
    // Timestamps (end-to-end latency) and the first record's trace (produce span) of what the worker packed.
    const trace = this.#o.instrumentation && { timestamps: jobs.map((j) => j.record.timestamp), headers: jobs[0]?.record.headers };
    this.#writers.sink(sinkName, partition).push({ entries, records: jobs.length, ...trace }, (error) => {
      if (error === undefined) { for (const ticket of tickets) ticket.done(); return; }
      this.#o.logger?.error({ err: serializeError(error), sink: sinkName }, 'sink write failed; the entries stay in the journal');
      for (const ticket of tickets) ticket.fail(error);
    });
  }
}
