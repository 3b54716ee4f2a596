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
  readonly done: Promise<void>;
  #resolve!: () => void;
  #reject!: (error: unknown) => void;
  readonly queued: Promise<void>;
  #markQueued!: () => void;
  #failQueued!: (error: unknown) => void;

  constructor(id: number, writes: WireWrites, covers: readonly string[], deps: readonly StagedChange[]) {
    this.id = id;
    this.writes = writes;
    this.covers = covers;
    this.#deps = deps;
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.queued = new Promise<void>((resolve, reject) => {
      this.#markQueued = resolve;
      this.#failQueued = reject;
    });
    // Nobody may be waiting on these yet; a failure is reported to whoever calls commit().
    this.done.catch(() => undefined);
    this.queued.catch(() => undefined);
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** @internal used by the store */
  setPhase(phase: Phase): void {
    this.#phase = phase;
    if (phase === 'queued') {
      this.#deps = [];
      this.#markQueued();
    }
    if (phase === 'committed') this.#resolve();
  }

  /** @internal used by the store */
  fail(error: unknown): void {
    this.#phase = 'failed';
    this.#deps = [];
    this.#failQueued(error);
    this.#reject(error);
  }
}
