import { WalrusError } from '../../errors/index.js';

/** Options of {@link CrashGuard}: bounded restarts and worker recycling. */
export interface CrashPolicy {
  /**
   * Worker threads that may die in a row, with no batch succeeding in
   * between, before the run ends with a fatal WORKER_CRASHED. A record that
   * runs alone and kills its worker on every attempt counts once, not once
   * per attempt: a burst of poison records is dead-lettered (its neighbours
   * may all have finished before its retries come round); a processor that
   * kills every worker (at import, in `init`, in a timer) never lets one
   * succeed, and this ends it instead of looping.
   * @default 20
   */
  maxConsecutiveCrashes?: number;
  /** Replace a worker after it ran this many batches; 0 = never. @default 0 */
  recycleAfterTasks?: number;
  /** Replace a worker once its V8 heap in use exceeds this many bytes (checked as each batch starts); 0 = never. @default 0 */
  recycleAboveHeapBytes?: number;
}

/**
 * Counts worker deaths for the pool: decides when a crash loop must end the
 * run, and when a healthy worker has run long (or grown) enough to be
 * replaced before it leaks its way into trouble.
 */
export class CrashGuard {
  readonly #max: number;
  readonly #afterTasks: number;
  readonly #aboveHeap: number;
  #consecutive = 0;
  #lastCrash = '';
  /** Records (running alone) already counted in the current streak. */
  readonly #counted = new Set<string>();
  readonly #tasks = new Map<number, number>();
  readonly #heap = new Map<number, number>();

  constructor(policy: CrashPolicy = {}) {
    this.#max = policy.maxConsecutiveCrashes ?? 20;
    this.#afterTasks = policy.recycleAfterTasks ?? 0;
    this.#aboveHeap = policy.recycleAboveHeapBytes ?? 0;
  }

  /** Heap in use on `threadId` as a batch started there. */
  sawHeap(threadId: number, heapUsed: number): void {
    this.#heap.set(threadId, heapUsed);
  }

  /**
   * A batch was placed on `threadId`: true when that is its last before
   * recycling (`recycleAfterTasks`). Counted as batches are placed, not as
   * they come back: a worker runs several at once, and one that waits to be
   * recycled must get no more.
   */
  placed(threadId: number): boolean {
    const tasks = (this.#tasks.get(threadId) ?? 0) + 1;
    this.#tasks.set(threadId, tasks);
    return this.#afterTasks > 0 && tasks >= this.#afterTasks;
  }

  /** A batch succeeded on `threadId`: resets the crash streak; true when the worker should now be recycled (its heap). */
  succeeded(threadId: number | undefined): boolean {
    this.#consecutive = 0;
    this.#counted.clear();
    if (threadId === undefined) return false;
    return this.#aboveHeap > 0 && (this.#heap.get(threadId) ?? 0) > this.#aboveHeap;
  }

  /**
   * A worker died running `what`; returns the fatal error once the streak
   * reaches the limit. `record`: the id of the one record the task held,
   * running alone — counted once per streak, whatever its attempts.
   */
  crashed(what: string, reason: string, record?: string): WalrusError | undefined {
    this.#lastCrash = reason;
    if (record !== undefined) {
      if (this.#counted.has(record)) return undefined;
      this.#counted.add(record);
    }
    this.#consecutive += 1;
    if (this.#consecutive < this.#max) return undefined;
    return new WalrusError('WORKER_CRASHED',
      `${this.#consecutive} worker threads died in a row with no batch succeeding in between (last: ${what}: ` +
      `${this.#lastCrash}); stopping the run instead of restarting workers forever. Fix the processor and run again: ` +
      'records not finished stay in the journal (or on the node) and are processed on the next start.',
      { retriable: false, context: { task: what, crashes: this.#consecutive } });
  }

  /** Forgets a thread that ended. */
  forget(threadId: number): void {
    this.#tasks.delete(threadId);
    this.#heap.delete(threadId);
  }
}
