import { WalrusError, serializeError, type SerializedError } from '../../errors/index.js';
import type { ProcessorSpec } from '../../topology/types.js';
import type { StageGroup } from '../../topology/stage-groups.js';
import type { ExitRecord, GroupBatchResult, GroupSpecWire, MemberPreload, ResumeStep, TaskRecord, UnitFailure, WireRecord } from '../wire/messages.js';
import type { StatePreload, StateWrites } from '../../state/worker/worker-state.js';
import { Backoffs, retryDelay } from './backoff.js';
import { OrderingScheduler } from './ordering-scheduler.js';
import { statefulReach } from './member-reach.js';
import { culpritOf } from '../pool/crash-supervisor.js';
import { TICK_SOURCE } from '../../processor/stream-time-tick.js';
import type { BatchRunner } from '../pipeline/pipeline-io.js';
import type { Instrumentation } from '../pipeline/instrumentation.js';

/** How a stateful processor's records get their key's state and hand back their writes (bound to the processor). */
export interface StateHooks {
  preload(job: Job): StatePreload[] | undefined;
  /**
   * Stages the writes synchronously; an error refuses them (the record then
   * fails instead). `sent`: the preload the task carried (the staleness check).
   */
  accept(job: Job, writes: StateWrites[] | undefined, sent: StatePreload[] | undefined): SerializedError | undefined;
}

/** A record travelling through a stage group, entering at member `entry`. */
export interface Job {
  record: Omit<WireRecord, 'attempt'>;
  readonly key?: string;
  /** Attempt at the entry member (1-based). */
  attempt: number;
  firstFailureAt?: number;
  /** Member index the record enters its group by. */
  entry: number;
  /** Run the entry member alone; every output comes back (recovery). */
  single?: boolean;
  /** Its batch's worker died: it runs alone (and its entry member alone) from now on, so one crashing record cannot take its neighbours down with it. */
  isolate?: boolean;
  /** Opaque to the runner: the coordinator's bookkeeping (ticket, raw bytes). */
  readonly meta: unknown;
  /** When it was queued here (epoch ms, for the queue-wait histogram). */
  queuedAt?: number;
  /** A continuation (a retry, or the next member after a member ran alone): the job holding the key it runs under. */
  root?: Job;
  /** On a root: continuations not finished yet. */
  parts?: number;
  /** On a root: its own result is in. */
  settled?: boolean;
  /** The preloads its last dispatch carried (the staleness check of each member's writes). */
  sent?: MemberPreload[];
  /** In its last dispatch: the record of its run it followed (same key, same batch; it ran on the state that one left). */
  prev?: Job;
  /** The rest of its chain, which a task spilled (wire/messages.ts SPILL_AFTER): it runs these steps instead of its entry member. */
  resume?: ResumeStep[];
}

export interface StageRunnerOptions {
  group: StageGroup;
  wire: GroupSpecWire;
  /** The members' specs, in member order. */
  specs: ProcessorSpec[];
  runner: BatchRunner;
  /** State hooks of each member (undefined: stateless). */
  hooks: Array<StateHooks | undefined>;
  /**
   * A batch's result: the coordinator routes exits, stages state, writes
   * packed entries, counts. Returns exits that continue in this group under
   * the key the job holds, state refusals (as failures of their unit), and
   * the records of runs whose results were not taken (`skipped`: the worker
   * deferred them, or a record before them in their run was refused): they
   * go back to the front of their key's line.
   */
  onResult(batch: Job[], result: GroupBatchResult): { resume: ExitRecord[]; refused: UnitFailure[]; skipped: Set<number> };
  /** The job that runs `failure`'s member again (or `exit`'s target) under `job`'s key; undefined: skip it (already applied). */
  continuation(job: Job, at: { member: number; hops: number[]; record?: UnitFailure['record'] | ExitRecord; attempt: number }): Job | undefined;
  onDeadLetter(member: string, job: Job, error: SerializedError, lastFailureAt: number): void;
  onRetry?(member: string, job: Job, error: SerializedError, delayMs: number): void;
  /** A record cut short by shutdown: neither retried nor dead-lettered (it stays in the journal). */
  onAbandon?(member: string, job: Job, error: SerializedError): void;
  /** Each dispatched job once its result is handled (the coordinator finishes its ticket unit). */
  onSettled(job: Job): void;
  /** True once the pipeline is stopping. @default () => false */
  stopping?(): boolean;
  /** Run every member alone (tracing: one span per processor). @default () => false */
  stepwise?(): boolean;
  /** Batches in flight below which a partial batch is sent at once (usually the number of worker threads). @default 1 */
  eagerBatches?: number;
  /**
   * True while what this group feeds (the groups after it, the sinks) holds
   * too many records: no batch is dispatched until `wake()` finds it false
   * (backpressure between groups; the coordinator decides). @default () => false
   */
  held?(): boolean;
  /**
   * The most records a batch may take now, while the coordinator does not yet
   * know how much this group derives per record (its first batch is a small
   * probe, see backpressure.ts); undefined: the head's `batchSize`.
   */
  batchLimit?(): number | undefined;
  /** A batch's result was handled (records left this group): the coordinator wakes the groups held behind it. */
  onBatchDone?(): void;
  now?: () => number;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  instrumentation?: Instrumentation;
}

/**
 * Runs one stage group: orders records (the group holds a record's key from
 * entry until its whole chain is done, retries included), packs them into
 * batches of up to the head's `batchSize`, keeps at most its `concurrency`
 * batches in flight, and handles every unit of failure on its own: a member
 * that failed on a record is retried alone, with the input it had, after its
 * own backoff, or dead-lettered — the members before it never run again.
 */
export class StageRunner {
  readonly #o: StageRunnerOptions;
  readonly #scheduler: OrderingScheduler<Job>;
  readonly #now: () => number;
  /** Stateful members each entry can reach in the chain (none at all in a group without state: not walked). */
  readonly #reach: ReadonlyArray<readonly number[]>;
  /** Member name → index in the group. */
  readonly #members: Map<string, number>;
  #batchesInFlight = 0;
  /** Records in batches sent to a worker and not yet handled (the dashboard's in-flight). */
  #recordsOut = 0;
  #pumpScheduled = false;
  /** The last pump stopped on `held()`: `wake()` pumps again. */
  #heldBack = false;
  readonly #backoffs: Backoffs<Job>;

  constructor(options: StageRunnerOptions) {
    this.#o = options;
    this.#scheduler = new OrderingScheduler<Job>(options.group.ordering);
    this.#now = options.now ?? Date.now;
    this.#members = new Map(options.group.members.map((name, i) => [name, i]));
    this.#reach = statefulReach(options.wire, options.hooks);
    this.#backoffs = new Backoffs<Job>(options.setTimer);
  }

  get name(): string {
    return this.#o.group.name;
  }

  /** Records queued here or in a worker (the dashboard's in-flight per stage group). */
  get pending(): number {
    return this.#scheduler.queued + this.#recordsOut;
  }

  /** Records in batches out in workers (their results not handled yet). */
  get recordsOut(): number {
    return this.#recordsOut;
  }

  submit(job: Job): void {
    if (this.#o.instrumentation) job.queuedAt = Date.now();
    this.#scheduler.enqueue(job);
    this.#schedulePump();
  }

  /** True while its last pump was held back by what it feeds (the backpressure gauge). */
  get heldBack(): boolean {
    return this.#heldBack;
  }

  /** Pumps again if the last pump was held back (what this group feeds has room again, maybe). */
  wake(): void {
    if (this.#heldBack) this.#schedulePump();
  }

  #schedulePump(): void {
    // Pump once per tick, not per record: an upstream batch hands over its
    // outputs synchronously, and pumping on each would send batches of one.
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => { this.#pumpScheduled = false; this.#pump(); });
  }

  #pump(): void {
    const head = this.#o.specs[0]!;
    const eager = this.#o.eagerBatches ?? 1;
    this.#heldBack = false;
    while (this.#batchesInFlight < head.concurrency) {
      // What this group feeds is full: every record dispatched now could add up to a task's worth of
      // derived records (SPILL_AFTER) to it, so nothing goes until it drains. The groups after this one
      // never wait for it, so they always drain.
      if (this.#scheduler.ready > 0 && this.#o.held?.() === true) { this.#heldBack = true; break; }
      const ready = this.#scheduler.ready;
      const size = Math.min(head.batchSize, this.#o.batchLimit?.() ?? head.batchSize);
      // A partial batch goes out only while few batches are in flight; past
      // that, records wait for a batch to come back and leave together.
      // Sending every trickle at once made batches of a few records, and
      // each task costs a thread message.
      if (ready === 0 || (ready < size && this.#batchesInFlight >= eager)) break;
      const taken = this.#take(size);
      if (taken.length === 0) break;
      const batch = taken.filter((job) => !job.isolate);
      for (const job of taken) if (job.isolate) this.#dispatch([job]);
      if (batch.length > 0) this.#dispatch(batch);
    }
  }

  /**
   * Which waiting records may follow their key's owner in one batch (a run):
   * fresh records entering where it enters. Retries, isolated or single
   * records, stream-time ticks and traced (stepwise) runs go alone.
   */
  readonly #chain = (last: Job, next: Job): boolean => {
    if (last.entry !== next.entry || !plain(last) || !plain(next) || (this.#o.stepwise?.() ?? false)) return false;
    next.prev = last;
    this.#linked.add(next);
    return true;
  };

  /** Jobs `take` linked into a run (their `prev` is set); any other job taken has none. */
  readonly #linked = new Set<Job>();

  #take(max: number): Job[] {
    this.#linked.clear();
    const taken = this.#scheduler.take(max, this.#chain);
    for (const job of taken) if (!this.#linked.has(job)) job.prev = undefined;
    this.#linked.clear();
    return taken;
  }

  #dispatch(batch: Job[]): void {
    this.#batchesInFlight += 1;
    this.#recordsOut += batch.length;
    this.#o.instrumentation?.dispatched(this.#o.wire, batch, Date.now());
    void this.#run(batch);
  }

  async #run(batch: Job[]): Promise<void> {
    const stepwise = this.#o.stepwise?.() ?? false;
    // One literal of a fixed shape per record (a spread copies generically, and it showed in profiles).
    const wire = new Array<TaskRecord>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const job = batch[i]!;
      const r = job.record;
      const single = stepwise || job.single === true || job.isolate === true;
      const chained = job.prev !== undefined;
      if (chained) job.sent = undefined;
      wire[i] = { id: r.id, key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, source: r.source,
        attempt: job.attempt, encoding: r.encoding, state: undefined, entry: job.entry, single, preload: chained ? undefined : this.#preload(job, single), chained };
      if (job.resume !== undefined) wire[i]!.resume = job.resume;
    }
    let result: GroupBatchResult;
    try {
      result = await this.#o.runner.process(this.#o.wire, wire);
    } catch (error) {
      this.#crashed(batch, error);
      this.#batchesInFlight -= 1;
      this.#recordsOut -= batch.length;
      this.#pump();
      return;
    }
    try {
      this.#o.instrumentation?.batchDone(this.#o.wire, batch, result, Date.now());
      const { resume, refused, skipped } = this.#o.onResult(batch, result);
      if (skipped.size > 0) {
        this.#scheduler.defer(batch.filter((_, i) => skipped.has(i)));
      }
      const created = new Array<number>(batch.length).fill(0);
      let spilled: Map<number, ResumeStep[]> | undefined;
      for (const exit of resume) {
        if (exit.spilled === true) {
          // The rest of a chain its task spilled: one continuation runs it all, in order, under the record's key (below).
          let steps = (spilled ??= new Map()).get(exit.index);
          if (steps === undefined) spilled.set(exit.index, steps = []);
          if (exit.hops.length > 0) steps.push({ member: this.#memberIndex(exit.target), hops: exit.hops, id: exit.id, key: exit.key, value: exit.value, headers: exit.headers, source: exit.source });
          continue;
        }
        const job = batch[exit.index]!;
        const next = this.#o.continuation(job, { member: this.#memberIndex(exit.target), hops: exit.hops, record: exit, attempt: 1 });
        if (next === undefined) continue;
        created[exit.index]! += 1;
        this.#scheduler.requeue(next);
      }
      if (spilled !== undefined) {
        for (const [index, steps] of spilled) {
          // The record itself again, with the steps still to run (none: it was spilled whole and runs from its entry, as it came).
          const job = batch[index]!;
          const next = this.#o.continuation(job, { member: job.entry, hops: [], attempt: job.attempt });
          if (next === undefined) continue;
          if (steps.length > 0) next.resume = steps;
          created[index]! += 1;
          this.#scheduler.requeue(next);
        }
      }
      for (const f of result.failures) if (!skipped.has(f.index)) created[f.index]! += this.#failUnit(batch[f.index]!, f);
      for (const f of refused) created[f.index]! += this.#failUnit(batch[f.index]!, f);
      for (let i = 0; i < batch.length; i++) if (!skipped.has(i)) this.#settle(batch[i]!, created[i]!);
    } finally {
      this.#batchesInFlight -= 1;
      this.#recordsOut -= batch.length;
      this.#pump();
      this.#o.onBatchDone?.();
    }
  }

  /**
   * The worker itself died (or was terminated past a deadline): the batch is
   * split and each record runs alone — and its entry member alone — from now
   * on, without spending an attempt; only a record that kills its worker
   * running one member alone is charged one, so a poison record ends in the
   * dead letters naming the right processor and its neighbours flow on.
   *
   * When the pool knows which record it was (`context.culprit`: a deadline passed and the worker had published
   * whose step it was, or who held its thread), only that one runs alone; the others go on in batches (one at a
   * time per thread, 256 records of a 100 ms processor take 25 s).
   */
  #crashed(batch: Job[], error: unknown): void {
    const data = serializeError(error);
    const named = batch.length > 1 ? culpritOf(error, batch.length) : undefined;
    const suspect = (i: number) => named === undefined || named === i;
    // The records that followed others in their run wait behind their run's first record (which is requeued below).
    const followers = batch.filter((job) => job.prev !== undefined);
    batch.forEach((job, i) => { if (job.prev !== undefined && suspect(i)) job.isolate = true; });
    if (followers.length > 0) this.#scheduler.defer(followers);
    for (let i = 0; i < batch.length; i++) {
      const job = batch[i]!;
      if (job.prev !== undefined) continue;
      if (batch.length === 1 && (job.isolate || job.single || this.#o.specs.length === 1)) {
        this.#settle(job, this.#failUnit(job, { index: 0, member: job.entry, hops: [], attempt: job.attempt, error: data }));
        continue;
      }
      if (suspect(i)) job.isolate = true;
      this.#scheduler.requeue(job);
    }
  }

  /** One member failed on one record: retry it alone after backoff, or dead-letter it. Returns 1 when a retry is pending. */
  #failUnit(job: Job, failure: UnitFailure): number {
    const spec = this.#o.specs[failure.member]!;
    const unit = this.#o.continuation(job, failure);
    if (unit === undefined) return 0;
    const error = failure.error;
    const retry = error.retriable && unit.attempt < spec.retry.attempts;
    // Past the stop's abort point (cutShort) a retry is not waited for either: the record stays in the journal.
    if ((error.code === 'SHUTTING_DOWN' || (retry && this.#backoffs.cut)) && this.#o.stopping?.() && this.#o.onAbandon) {
      this.#o.onAbandon(spec.name, unit, error);
      return 0;
    }
    const now = this.#now();
    unit.firstFailureAt ??= now;
    if (retry) {
      const delay = retryDelay(spec.retry, unit.attempt, (this.#o.random ?? Math.random)());
      this.#o.onRetry?.(spec.name, unit, error, delay);
      this.#backoffs.wait(unit, spec.name, delay, () => { unit.attempt += 1; this.#scheduler.requeue(unit); this.#pump(); });
      return 1;
    }
    this.#o.onDeadLetter(spec.name, unit, error, now);
    return 0;
  }

  /** The stop's abort point (or a fatal end): records waiting out a retry backoff are cut short, kept in the journal (backoff.ts). */
  cutShort(): void {
    const abandon = this.#o.onAbandon;
    if (abandon === undefined) return;
    for (const { unit, member } of this.#backoffs.cutShort()) {
      const error = serializeError(new WalrusError('SHUTTING_DOWN', `record ${unit.record.id} was waiting to retry processor "${member}" ` +
        `(attempt ${unit.attempt + 1}) when the run stopped; it stays in the journal for the next start`));
      this.#settle(unit, 0, (job) => abandon(member, job, error));
    }
    this.#pump();
  }

  /** A dispatched job's result is handled (`settled`: how its unit ends); its root passes the key on once its whole chain is done. */
  #settle(job: Job, created: number, settled = this.#o.onSettled): void {
    const root = job.root ?? job;
    root.parts = (root.parts ?? 0) + created - (job === root ? 0 : 1);
    if (job === root) root.settled = true;
    settled(job);
    if (root.settled && root.parts === 0) this.#scheduler.complete(root);
  }

  /** What a job's task carries of each stateful member it can reach (only its entry member when it runs alone). */
  #preload(job: Job, single: boolean): MemberPreload[] | undefined {
    const reach = this.#reach[job.entry]!;
    if (reach.length === 0 || (single && reach[0] !== job.entry)) { job.sent = undefined; return undefined; }
    let list: MemberPreload[] | undefined;
    for (const m of single ? [job.entry] : reach) {
      const stores = this.#o.hooks[m]!.preload(job);
      if (stores !== undefined) (list ??= []).push({ member: m, stores });
    }
    job.sent = list;
    return list;
  }

  #memberIndex(name: string): number {
    const i = this.#members.get(name);
    if (i === undefined) throw new WalrusError('INTERNAL_ERROR', `processor "${name}" is not a member of stage group "${this.name}"`);
    return i;
  }
}

/** A fresh record that may run in a run: first attempt, not isolated or single, not a stream-time tick. */
function plain(job: Job): boolean {
  return job.attempt === 1 && job.isolate !== true && job.single !== true && job.root === undefined && job.record.source !== TICK_SOURCE;
}
