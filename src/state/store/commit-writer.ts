import type { StagedChange } from '../model/staged-change.js';
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
  #running = false;
  #drained: Array<() => void> = [];
  #compactWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
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

  enqueue(staged: StagedChange): void {
    this.#queue.push(staged);
    staged.setPhase('queued');
    this.#kick();
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
      try {
        if (batch.length > 0) {
          await this.#core.writeBatch(batch);
          this.commits += batch.length;
          this.flushes++;
        }
        if (this.#compactWaiters.length > 0 || this.#core.log.size >= this.#snapshotEveryBytes) {
          const waiters = this.#compactWaiters.splice(0);
          await this.#core.snapshot();
          this.snapshots++;
          for (const w of waiters) w.resolve();
        }
      } catch (error) {
        this.failed ??= error;
        for (const staged of [...batch, ...this.#queue.splice(0)]) if (staged.phase !== 'committed') staged.fail(error);
        for (const w of this.#compactWaiters.splice(0)) w.reject(error);
      }
    }
  }
}
