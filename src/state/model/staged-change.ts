import type { WireWrites } from './change-set.js';

type Phase = 'staged' | 'waiting' | 'queued' | 'committed' | 'failed';

/**
 * A change set the store has made visible but not yet durable. The runtime
 * holds on to it while the record's outputs are produced and calls
 * `store.commit(staged)` when the record is about to be released.
 */
export class StagedChange {
  readonly id: number;
  readonly writes: WireWrites;
  /** Record ids (e.g. `${journalSeq}:${index}`) whose effects this change holds. */
  readonly covers: readonly string[];
  /**
   * Earlier uncommitted changes this one read or overwrote: they must reach
   * the log first. Emptied once this change is queued, so a long stream of
   * changes on one key does not keep its whole history reachable.
   */
  get deps(): readonly StagedChange[] {
    return this.#deps;
  }
  #deps: readonly StagedChange[];
  /** Commit sequence number, assigned when written. */
  seq = 0;
  #phase: Phase = 'staged';
  #error: unknown;
  // The two promises are made only when someone waits: most changes are
  // committed in a group without anyone awaiting `queued`, and at tens of
  // thousands of records/s four promises and their closures per record were
  // a visible share of the coordinator's GC.
  #done: Deferred | undefined;
  #queued: Deferred | undefined;

  /** The record key every write is in (`scope` or `scope@...`), when the store checked so: MemoryState lists the change under it once. */
  readonly scope: string | undefined;

  constructor(id: number, writes: WireWrites, covers: readonly string[], deps: readonly StagedChange[], scope?: string) {
    this.id = id;
    this.scope = scope;
    this.writes = writes;
    this.covers = covers;
    this.#deps = deps;
  }

  /** Settles when the change is durable (rejects if it failed). */
  get done(): Promise<void> {
    this.#done ??= settled(this.#phase === 'committed' ? 'resolved' : this.#phase === 'failed' ? 'rejected' : 'pending', this.#error);
    return this.#done.promise;
  }

  /** Settles when the change is queued for writing, i.e. ordered in the log after its dependencies (rejects if it failed). */
  get queued(): Promise<void> {
    const state = this.#phase === 'queued' || this.#phase === 'committed' ? 'resolved' : this.#phase === 'failed' ? 'rejected' : 'pending';
    this.#queued ??= settled(state, this.#error);
    return this.#queued.promise;
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** @internal used by the store */
  setPhase(phase: Phase): void {
    this.#phase = phase;
    if (phase === 'queued') {
      this.#deps = [];
      this.#queued?.resolve();
    }
    if (phase === 'committed') {
      this.#queued?.resolve();
      this.#done?.resolve();
    }
  }

  /** @internal used by the store */
  fail(error: unknown): void {
    this.#phase = 'failed';
    this.#error = error;
    this.#deps = [];
    this.#queued?.reject(error);
    this.#done?.reject(error);
  }
}

interface Deferred { promise: Promise<void>; resolve(): void; reject(error: unknown): void }

/** A promise already settled as `state`, or pending with its settle functions. */
function settled(state: 'pending' | 'resolved' | 'rejected', error: unknown): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  // A failure is reported to whoever waits; an unobserved one is not an unhandled rejection.
  promise.catch(() => undefined);
  if (state === 'resolved') resolve();
  else if (state === 'rejected') reject(error);
  return { promise, resolve, reject };
}
