import type { WireWrites } from '../model/change-set.js';
import type { StagedChange } from '../model/staged-change.js';
import type { ForeignIdList } from './foreign-ids.js';
import type { StoreCore } from './store-core.js';

/**
 * The store's single writer: every log append, changelog publish and
 * snapshot happens here, one at a time. Commits that arrive while a write is
 * in progress are coalesced into the next one (group commit), which is what
 * makes a durable commit per record affordable.
 */
export class CommitWriter {
  #core: StoreCore;
  #snapshotEveryBytes: number;
  #queue: StagedChange[] = [];
  /** Settles with the flush that will write what is queued now: made only when someone waits (see `enqueue`). */
  #next: Flush | undefined;
  #running = false;
  #drained: Array<() => void> = [];
  #compactWaiters: CompactWaiter[] = [];
  commits = 0;
  flushes = 0;
  snapshots = 0;
  /** The first write error; the store is unusable after it (memory and disk may disagree). */
  failed: unknown;

  constructor(core: StoreCore, snapshotEveryBytes: number) {
    this.#core = core;
    this.#snapshotEveryBytes = snapshotEveryBytes;
  }

  get busy(): boolean {
    return this.#running || this.#queue.length > 0;
  }

  /**
   * Queues a change for the next flush. Returns a promise that settles with
   * that flush — resolved once every change in it is committed, rejected with
   * the write error — shared by all the changes it writes: waiting on it
   * costs one promise per flush, not one per change (`staged.done`).
   */
  enqueue(staged: StagedChange): Promise<void> {
    this.#queue.push(staged);
    staged.setPhase('queued');
    // Before the kick: a loop that starts now takes this change, and with it this flush, synchronously.
    const next = (this.#next ??= flush());
    this.#kick();
    return next.promise;
  }

  /**
   * Appends a restored batch (no commits run during a restore) and
   * snapshots once the log passes `snapshotEveryBytes`, as commits do.
   * Before, a restore grew the log by the whole changelog until it
   * finished: an interrupted restore of a long changelog (Walrus does not
   * compact it) left a log read whole into memory on every open, and past
   * 2 GiB one no open could read. A snapshot mid-restore holds exactly what
   * the log held; the resumed restore goes on from it.
   */
  async appendRestored(writes: WireWrites, applied: string[], foreign: ForeignIdList): Promise<void> {
    await this.#core.appendLocal(writes, applied, foreign);
    if (this.#core.log.size >= this.#snapshotEveryBytes) {
      await this.#core.snapshot();
      this.snapshots++;
    }
  }

  compact(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#compactWaiters.push({ resolve, reject });
      this.#kick();
    });
  }

  /** Resolves once nothing is queued or being written. */
  drain(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise<void>((resolve) => this.#drained.push(resolve));
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    for (;;) {
      // Checked and cleared synchronously, so an enqueue right after the loop ends always starts a new one.
      if (this.#queue.length === 0 && this.#compactWaiters.length === 0) {
        this.#running = false;
        for (const resolve of this.#drained.splice(0)) resolve();
        return;
      }
      const batch = this.#queue.splice(0);
      const waiting = this.#next;
      this.#next = undefined;
      // Taken off the list before the snapshot they wait for: a snapshot that fails must reject them from here.
      let compacting: CompactWaiter[] = [];
      try {
        if (batch.length > 0) {
          await this.#core.writeBatch(batch);
          this.commits += batch.length;
          this.flushes++;
        }
        waiting?.resolve();
        if (this.#compactWaiters.length > 0 || this.#core.log.size >= this.#snapshotEveryBytes) {
          compacting = this.#compactWaiters.splice(0);
          await this.#core.snapshot();
          this.snapshots++;
          for (const w of compacting) w.resolve();
        }
      } catch (error) {
        this.failed ??= error;
        for (const staged of [...batch, ...this.#queue.splice(0)]) if (staged.phase !== 'committed') staged.fail(error);
        // The batch failed, and what was queued meanwhile is failed with it.
        waiting?.reject(error);
        (this.#next as Flush | undefined)?.reject(error); // set again by enqueues during the failed write
        this.#next = undefined;
        for (const w of [...compacting, ...this.#compactWaiters.splice(0)]) w.reject(error);
      }
    }
  }
}

interface Flush { promise: Promise<void>; resolve(): void; reject(error: unknown): void }

function flush(): Flush {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  // Reported to whoever waits; a flush nobody waits for is not an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

interface CompactWaiter { resolve: () => void; reject: (e: unknown) => void }
