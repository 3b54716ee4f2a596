import type { Worker } from 'node:worker_threads';
import { WalrusError } from '../../errors/index.js';
import { RecentSet } from '../../util/recent-set.js';
import { CrashGuard, type CrashPolicy } from './crash-guard.js';
import { TaskWatchdog, isTaskStarted } from './timeout-watchdog.js';
import type { ThreadSteps } from '../worker/step-deadlines.js';

/** Options of {@link TaskSupervisor}. */
export interface SupervisorOptions extends CrashPolicy {
  /**
   * After a record's timeout fired its AbortSignal, how long its batch may
   * still take before the worker is terminated. @default 5000
   */
  timeoutGraceMs?: number;
  /** Called once when worker crashes reach `maxConsecutiveCrashes` (the run should end). */
  onFatal?(error: WalrusError): void;
}

/** What a task runs, for deadlines and messages: `processor "enrich"` or `stage group "enrich" (enrich, route, revenue)`. */
/** What a task runs: for messages, its deadline, and (one record running alone) that record's id. */
/** `member`: the task runs one processor alone, so a step past its timeout is that processor's own timeout. */
export interface TaskLabel { what: string; timeoutMs: number; record?: string; member?: boolean }

/** What to do with a batch whose task failed. */
export type TaskFailure = { rerun: true } | { rerun: false; error: WalrusError };

/**
 * The pool's side of crash containment: deadlines on running batches
 * (terminating a worker stuck past `timeout + grace`), the crash streak that
 * ends a crash loop, and recycling workers after N batches or M bytes of heap.
 */
export class TaskSupervisor {
  readonly #o: SupervisorOptions;
  readonly #watchdog = new TaskWatchdog();
  readonly #guard: CrashGuard;
  /** Threads due for recycling: they get no new batch and are ended once the batches they run are back. */
  readonly #retiring = new RecentSet<number>();
  /**
   * Threads ended to recycle them: a task lost with them is re-run, not blamed. Not every retiring thread: one
   * runs its last batches for a while, and a crash or a timeout there is a processor's, to count and to charge.
   */
  readonly #recycled = new RecentSet<number>();
  /** Threads terminated for one task's deadline: the other tasks lost with them are re-run, not blamed. */
  readonly #killed = new RecentSet<number>();
  /** Threads whose death was counted: a worker running several tasks dies once, however many it takes down. */
  readonly #died = new RecentSet<number>();
  /** The thread each batch was placed on, until it is back (its start notice may come after other batches' results). */
  readonly #placedOn = new Map<number, number>();
  #fatal = false;
  /** Batches that came back before their start notice did (the two travel on different channels). */
  readonly #early = new Set<number>();
  #threads: () => readonly Worker[] = () => [];
  /** What each thread published last (worker/step-deadlines.ts), also after it died. */
  #steps: ((threadId: number) => ThreadSteps) | undefined;

  constructor(options: SupervisorOptions = {}) {
    this.#o = options;
    this.#guard = new CrashGuard(options);
  }

  /** The pool's live threads (to terminate one whose task is past its deadline, or to recycle one). */
  attach(threads: () => readonly Worker[]): void {
    this.#threads = threads;
  }

  /**
   * Registers a batch of `spec`: the task id to send along, and the signal
   * that fires when its deadline passes. An `exclusive` task runs alone on
   * its thread (piscina places an abortable task only on an idle worker) and
   * piscina aborts it with the signal; any other task shares its thread with
   * others, and the thread is terminated here, the other tasks on it being
   * re-run (see `failed`).
   */
  begin(spec: TaskLabel, exclusive = true): { taskId: number; signal: AbortSignal } {
    const watched = this.#watchdog.watch(spec.timeoutMs > 0 ? spec.timeoutMs + (this.#o.timeoutGraceMs ?? 5_000) : 0);
    if (!exclusive) watched.signal.addEventListener('abort', () => this.#terminateFor(watched.taskId), { once: true });
    return watched;
  }

  #terminateFor(taskId: number): void {
    const threadId = this.#watchdog.threadOf(taskId);
    if (threadId === undefined) return;
    this.#killed.add(threadId);
    void this.#threads().find((w) => w.threadId === threadId)?.terminate();
  }

  /** Handles a worker's "task started" notice; false for any other message. */
  onMessage(message: unknown): boolean {
    if (!isTaskStarted(message)) return false;
    if (message.progress === true) { this.#watchdog.progress(message.taskId); return true; }
    this.#guard.sawHeap(message.threadId, message.heapUsed);
    if (this.#early.delete(message.taskId)) this.#afterTask(message.threadId);
    else this.#watchdog.started(message.taskId, message.threadId);
    return true;
  }

  /** The batch came back: maybe recycle its worker (terminated while idle; piscina starts a new one). */
  succeeded(taskId: number): void {
    this.#placedOn.delete(taskId);
    const threadId = this.#watchdog.threadOf(taskId);
    this.#watchdog.finish(taskId);
    if (threadId === undefined) {
      this.#guard.succeeded(undefined); // ends a crash streak now; its thread is looked at when its notice arrives
      this.#early.add(taskId);
    } else {
      this.#afterTask(threadId);
    }
  }

  /** A batch of the thread came back: recycle it if its heap grew past the limit, and end it once drained if it is being recycled. */
  #afterTask(threadId: number): void {
    if (this.#guard.succeeded(threadId)) this.#retiring.add(threadId);
    this.#endIfDrained(threadId);
  }

  #endIfDrained(threadId: number): void {
    if (!this.#retiring.has(threadId)) return;
    // Any batch placed there, started or not: piscina places one as soon as another comes back, before we hear of either.
    for (const placed of this.#placedOn.values()) if (placed === threadId) return;
    this.#recycled.add(threadId);
    void this.#threads().find((w) => w.threadId === threadId)?.terminate();
  }

  /** False for a thread being recycled: the pool's balancer places no new batch on it. */
  accepts(threadId: number): boolean {
    return !this.#retiring.has(threadId);
  }

  /** The pool's balancer placed a batch on the thread: after `recycleAfterTasks` of them it takes no more. */
  placed(threadId: number, taskId: number): void {
    this.#placedOn.set(taskId, threadId);
    if (this.#guard.placed(threadId)) this.#retiring.add(threadId);
  }

  /** The batch's task failed: its worker died, was terminated for a deadline, or was recycled under it. */
  async failed(taskId: number, spec: TaskLabel, error: unknown): Promise<TaskFailure> {
    this.#placedOn.delete(taskId);
    // The start notice travels on another channel than the failure: it was
    // posted before the thread died, so one macrotask turn delivers it.
    if (this.#watchdog.threadOf(taskId) === undefined) await new Promise((resolve) => setTimeout(resolve, 1));
    const threadId = this.#watchdog.threadOf(taskId);
    // The record whose step the deadline was for (or that held the thread), when the thread said: the coordinator
    // runs that one alone and the rest of the batch as before (stage-runner.ts), instead of every record alone.
    const culprit = this.#watchdog.culprit(taskId);
    const context = culprit === undefined ? undefined : { culprit };
    const expired = this.#watchdog.finish(taskId);
    // Recycled under it, or it never started (its thread was recycled before
    // taking it): no processor code ran, so nothing is to blame.
    if (threadId === undefined || this.#recycled.has(threadId)) return { rerun: true };
    if (expired === 'held') {
      // Never a record running alone (it has its thread to itself): its records are charged nothing; the one holding the thread runs alone next.
      return { rerun: false, error: new WalrusError('PROCESSOR_TIMEOUT',
        `a processor of ${spec.what} held its worker thread in one synchronous call while the deadline of another batch there passed ` +
        `(plus a grace of ${this.#o.timeoutGraceMs ?? 5_000} ms); the worker was terminated and replaced`, { retriable: true, context }) };
    }
    // A task of one member alone: its step's deadline is the task's own, whichever check saw it first.
    if (expired === 'step' && spec.member !== true) {
      return { rerun: false, error: new WalrusError('PROCESSOR_TIMEOUT',
        `a processor of ${spec.what} did not return within its own timeout plus a grace of ${this.#o.timeoutGraceMs ?? 5_000} ms ` +
        '(it ignored ctx.signal or blocked its thread); the worker was terminated and replaced', { retriable: true, context }) };
    }
    if (expired === 'task' || expired === 'step') {
      return { rerun: false, error: new WalrusError('PROCESSOR_TIMEOUT',
        `${spec.what} did not return within its timeout of ${spec.timeoutMs} ms plus a grace of ${this.#o.timeoutGraceMs ?? 5_000} ms ` +
        '(it ignored ctx.signal or blocked its thread); the worker was terminated and replaced', { retriable: true, context }) };
    }
    // Terminated for another task's deadline (tasks share threads): nothing of this one failed.
    if (this.#killed.has(threadId)) return { rerun: true };
    // The thread died inside a step's synchronous call (process.exit(), out of memory there): that step's batch and
    // record did it. Another batch on the thread is run again as it was; that record alone of its own batch runs alone.
    const last = this.#steps?.(threadId);
    const holder = last !== undefined && last.holder !== 0 ? last.holder : undefined;
    if (holder !== undefined && holder !== taskId) return { rerun: true };
    const named = holder === taskId ? last!.holderRecord : undefined;
    const reason = (error as Error)?.message ?? String(error);
    // One death counts once towards the crash streak, however many tasks it took down. Each is split by the
    // coordinator; a record that runs alone (exclusive) is the only one charged.
    const counted = this.#died.has(threadId);
    this.#died.add(threadId);
    const fatal = counted ? undefined : this.#guard.crashed(spec.what, reason, spec.record);
    if (fatal && !this.#fatal) {
      this.#fatal = true;
      this.#o.onFatal?.(fatal);
    }
    return { rerun: false, error: new WalrusError('WORKER_CRASHED', `worker crashed while running ${spec.what}: ${reason}`,
      { cause: error, ...(named === undefined ? {} : { context: { culprit: named } }) }) };
  }

  /** Holds each step of a task to its own processor's timeout, from the deadlines its thread publishes (worker/step-deadlines.ts). */
  watchSteps(stepDeadline: (threadId: number) => ThreadSteps): void {
    this.#steps = stepDeadline;
    this.#watchdog.watchSteps(stepDeadline, this.#o.timeoutGraceMs ?? 5_000);
  }

  /** Stops its timers (the pool closed). */
  close(): void {
    this.#watchdog.close();
  }

  /** A thread ended (died, terminated or recycled). */
  forget(threadId: number): void {
    // #recycled keeps the id: the task lost with the thread may settle after
    // piscina reported the thread gone (thread ids are never reused).
    this.#guard.forget(threadId);
  }
}

/** The index of the record a failed task was ended for (its `culprit`, see above), if the error names a valid one. */
export function culpritOf(error: unknown, size: number): number | undefined {
  const culprit = error instanceof WalrusError ? error.context?.culprit : undefined;
  return typeof culprit === 'number' && Number.isInteger(culprit) && culprit >= 0 && culprit < size ? culprit : undefined;
}
