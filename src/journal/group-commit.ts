import { WalrusError } from '../errors/index.js';
import { diskFullAdvice } from '../util/disk-full.js';
import type { JournalFsync, JournalStep } from './options.js';
import type { SegmentManager } from './segment-manager.js';

interface PendingOp {
  chunks: Buffer[];
  /** Updates the in-memory state once the op's records are written to `segment`. */
  apply: (segment: number) => void;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** `dir`: the journal's directory, named in what to do when the disk is full. */
export function journalError(message: string, cause: unknown, dir?: string): WalrusError {
  if (cause instanceof WalrusError) return cause;
  const advice = dir === undefined ? '' : diskFullAdvice(cause, dir, 'run again');
  return new WalrusError('JOURNAL_ERROR', `${message}: ${(cause as Error)?.message ?? String(cause)}${advice}`, { cause });
}

/**
 * The journal's single serial writer. Ops queue up; one drain loop takes
 * every queued op (one at a time when `groupCommit` is false), writes their
 * records in one `write`, syncs once, applies and resolves them, then lets
 * the segment manager roll, delete or compact before the next round. Ops
 * that arrive while a round is writing wait for the next one: that is the
 * group commit. No timer waits for company: the first round starts in a
 * microtask after the first op, just enough to gather one tick's calls.
 */
export class GroupCommit {
  readonly #segments: SegmentManager;
  readonly #groupCommit: boolean;
  readonly #dir: string;
  readonly #onStep: (step: JournalStep) => void;
  readonly #nextSeq: () => number;
  #queue: PendingOp[] = [];
  #scheduled = false;
  #draining = false;
  #idleWaiters: Array<() => void> = [];
  #failure: WalrusError | undefined;
  writes = 0;
  syncs = 0;

  constructor(options: { segments: SegmentManager; fsync: JournalFsync; groupCommit: boolean; dir: string; onStep: (step: JournalStep) => void; nextSeq: () => number }) {
    this.#segments = options.segments;
    this.#groupCommit = options.groupCommit;
    this.#dir = options.dir;
    this.#onStep = options.onStep;
    this.#nextSeq = options.nextSeq;
  }

  /** The error that stopped the writer, if one did. */
  get failure(): WalrusError | undefined {
    return this.#failure;
  }

  /** Resolves once `chunks` are written (and synced unless `fsync: 'never'`) and `apply` ran. */
  enqueue(chunks: Buffer[], apply: (segment: number) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ chunks, apply, resolve, reject });
      if (!this.#draining && !this.#scheduled) {
        this.#scheduled = true;
        // A microtask, not a timer: every call made in this tick joins the
        // same write, yet the write happens before the event loop turns.
        // That matters for crash safety: an entry a destructive GET just
        // returned exists only in memory until this write, so the gap
        // between the GET reply and the write must be as short as possible.
        queueMicrotask(() => {
          this.#scheduled = false;
          void this.#drain();
        });
      }
    });
  }

  /** Resolves when nothing is queued or being written. */
  idle(): Promise<void> {
    if (!this.#draining && !this.#scheduled) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#groupCommit ? this.#queue.splice(0) : this.#queue.splice(0, 1);
        try {
          const synced = await this.#segments.write(batch.flatMap((op) => op.chunks));
          this.writes += 1;
          if (synced) this.syncs += 1;
          const segment = this.#segments.activeId;
          for (const op of batch) op.apply(segment);
        } catch (error) {
          this.#fail(journalError(`journal write failed in ${this.#dir}`, error, this.#dir), batch);
          return;
        }
        for (const op of batch) op.resolve();
        this.#onStep('committed');
        try {
          await this.#segments.maintain(this.#nextSeq());
        } catch (error) {
          this.#fail(journalError(`journal maintenance failed in ${this.#dir}`, error, this.#dir), []);
          return;
        }
      }
    } finally {
      this.#draining = false;
      if (this.#queue.length === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  /** After a failed write or sync the file's state is unknown (fsync errors are not retriable): refuse everything. */
  #fail(error: WalrusError, batch: PendingOp[]): void {
    this.#failure = error;
    for (const op of [...batch, ...this.#queue.splice(0)]) op.reject(error);
  }
}
