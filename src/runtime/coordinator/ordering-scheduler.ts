import { Fifo } from '../../util/fifo.js';
import type { Ordering } from '../../topology/types.js';

/** Anything the scheduler orders: only the key matters to it. */
export interface Schedulable {
  readonly key?: string;
}

/**
 * Decides which records of one processor may run now.
 *
 * `unordered`: first come, first served.
 * `key`: a key is *owned* by one record from the moment it becomes ready until
 * `complete` (its retries included), so records sharing a key run strictly one
 * at a time, in arrival order, while different keys run in parallel (the
 * Confluent Parallel Consumer "key" mode). Records without a key have no
 * ordering constraint.
 *
 * A *run*: when `take` hands out a key's owner, the records waiting behind it
 * may go in the same batch right after it (`chain` decides which), and the
 * worker runs them one after the other in arrival order (stage-chain.ts). The
 * key then stays owned until every record of the run is complete or
 * deferred (`defer`: a record that did not run goes back to the front of its
 * key's line, in order).
 */
export class OrderingScheduler<J extends Schedulable> {
  readonly #mode: Ordering;
  /** Jobs that may be dispatched now (each owns its key in `key` mode). */
  readonly #ready = new Fifo<J>();
  /** Retries whose backoff elapsed: they go before new work, and already own their key. */
  readonly #retries = new Fifo<J>();
  /** `key` mode: records waiting behind the key's owner, in arrival order. */
  readonly #waiting = new Map<string, Fifo<J>>();
  readonly #owned = new Set<string>();
  /** Keys handed out as a run of more than one record: how many of them are neither complete nor deferred. */
  readonly #runs = new Map<string, number>();
  #queued = 0;

  constructor(mode: Ordering) {
    this.#mode = mode;
  }

  /** Records waiting to be taken (ready, retry-due or behind their key). */
  get queued(): number {
    return this.#queued;
  }

  /** Records that `take` would return now (retry-due and ready; not those behind a busy key). */
  get ready(): number {
    return this.#retries.length + this.#ready.length;
  }

  enqueue(job: J): void {
    this.#queued += 1;
    const key = this.#keyOf(job);
    if (key === undefined) { this.#ready.push(job); return; }
    if (this.#owned.has(key)) {
      let line = this.#waiting.get(key);
      if (!line) { line = new Fifo<J>(); this.#waiting.set(key, line); }
      line.push(job);
      return;
    }
    this.#owned.add(key);
    this.#ready.push(job);
  }

  /** A job whose retry delay elapsed comes back (it kept its key meanwhile). */
  requeue(job: J): void {
    this.#queued += 1;
    this.#retries.push(job);
  }

  /**
   * Up to `max` jobs to dispatch now, retries first. With `chain` (key mode),
   * a new owner taken from the ready queue brings the records waiting behind
   * it, in order, for as long as `chain(last, next)` accepts them (`last`:
   * the run's record before `next`): a run, contiguous in the result.
   */
  take(max: number, chain?: (owner: J, next: J) => boolean): J[] {
    const out: J[] = [];
    while (out.length < max) {
      const retry = this.#retries.shift();
      const job = retry ?? this.#ready.shift();
      if (job === undefined) break;
      out.push(job);
      if (retry !== undefined || chain === undefined) continue;
      const key = this.#keyOf(job);
      const line = key === undefined ? undefined : this.#waiting.get(key);
      if (line === undefined) continue;
      let n = 1;
      let last = job;
      while (out.length < max && line.length > 0 && chain(last, line.peek()!)) { last = line.shift()!; out.push(last); n += 1; }
      if (line.length === 0) this.#waiting.delete(key!);
      if (n > 1) this.#runs.set(key!, n);
    }
    this.#queued -= out.length;
    return out;
  }

  /**
   * Jobs of a run that did not run (or whose results were not taken) go back
   * to the front of their key's line, in the order given; the key stays
   * owned by the rest of the run.
   */
  defer(jobs: readonly J[]): void {
    for (let i = jobs.length - 1; i >= 0; i--) {
      const job = jobs[i]!;
      const key = this.#keyOf(job)!;
      this.#queued += 1;
      let line = this.#waiting.get(key);
      if (!line) { line = new Fifo<J>(); this.#waiting.set(key, line); }
      line.unshift(job);
      const left = this.#runs.get(key);
      if (left !== undefined) this.#runs.set(key, left - 1);
    }
  }

  /** The job is finished for good (succeeded or dead-lettered): once its run is done, its key passes to the next record. */
  complete(job: J): void {
    const key = this.#keyOf(job);
    if (key === undefined) return;
    const left = this.#runs.get(key);
    if (left !== undefined) {
      if (left > 1) { this.#runs.set(key, left - 1); return; }
      this.#runs.delete(key);
    }
    const line = this.#waiting.get(key);
    const next = line?.shift();
    if (next === undefined) {
      this.#owned.delete(key);
      this.#waiting.delete(key);
      return;
    }
    if (line!.length === 0) this.#waiting.delete(key);
    this.#ready.push(next);
  }

  #keyOf(job: J): string | undefined {
    return this.#mode === 'key' ? job.key : undefined;
  }
}
