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

  /** Up to `max` jobs to dispatch now, retries first. */
  take(max: number): J[] {
    const out: J[] = [];
    while (out.length < max) {
      const job = this.#retries.shift() ?? this.#ready.shift();
      if (job === undefined) break;
      out.push(job);
    }
    this.#queued -= out.length;
    return out;
  }

  /** The job is finished for good (succeeded or dead-lettered): its key passes to the next record. */
  complete(job: J): void {
    const key = this.#keyOf(job);
    if (key === undefined) return;
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
