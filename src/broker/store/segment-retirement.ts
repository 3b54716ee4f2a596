import { statSync, unlinkSync } from 'node:fs';
import { faultPoint } from '../../util/fault-points.js';
import type { CursorPosition, StoredCursor } from './cursor-position.js';

/**
 * Retention's deletions (docs/broker.md, "Retention"). A sealed segment
 * wholly behind the durable cursor, and held by no lease, is deleted — but
 * only once the cursor that passed it is as durable as the fsync policy
 * makes writes: deleted first, a crash would bring back a cursor pointing
 * into a file that is gone. The order is therefore
 *
 *   1. the topic log releases the segments and marks its cursor for writing (`add`);
 *   2. a sync flushes (writing that cursor) and takes them (`take`);
 *   3. once its fdatasyncs are done they are `due`, and deleted on a later
 *      turn, after the replies the same sync released have left.
 *
 * A crash between 2 and 3 leaves files below the cursor's segment, which
 * the next start deletes the same way (file-store.ts). With fsync `never`
 * the cursor is written to the OS by the flush in step 2, which is all that
 * policy promises: they are due at once.
 */
export class SegmentRetirement {
  #waiting: string[] = [];
  #due: string[] = [];
  #scheduled = false;
  /** Segment files deleted since start, and their bytes (what retention gave back to the disk). */
  segmentsDeleted = 0;
  bytesDeleted = 0;

  /** Files to delete once the cursor written past them is durable. */
  add(paths: readonly string[]): void {
    for (const path of paths) this.#waiting.push(path);
  }

  /** What a sync takes right after its flush: every cursor write these wait for was made before it. */
  take(): string[] {
    const taken = this.#waiting;
    this.#waiting = [];
    return taken;
  }

  /** The cursor past `paths` is durable: they are deleted on a later turn (or by `run`). */
  due(paths: readonly string[]): void {
    if (paths.length === 0) return;
    for (const path of paths) this.#due.push(path);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.run()).unref();
  }

  /** Deletes every due file now. A file that cannot be deleted stays: the next start deletes it (it is below the cursor). */
  run(): void {
    this.#scheduled = false;
    const paths = this.#due;
    if (paths.length === 0) return;
    this.#due = [];
    faultPoint('broker.segments-unlinking');
    for (const path of paths) {
      try {
        const { size } = statSync(path);
        unlinkSync(path);
        this.segmentsDeleted += 1;
        this.bytesDeleted += size;
      } catch {
        // Gone already, or not ours to delete now: harmless, retried by the next start.
      }
      faultPoint('broker.segment-unlinked');
    }
  }
}

/** A topic's segment numbers at start, split at its stored cursor (see {@link splitAtCursor}). */
export interface CursorSplit {
  /** The stored cursor, when it is a position. */
  position: CursorPosition | undefined;
  /** Segments before the cursor's, left by a crash before retention deleted them: deleted, not opened. */
  leftovers: number[];
  /** The segments to recover, ascending. */
  numbers: number[];
  /** A number absent from here up to the newest one lost its entries (a `missing` repair). */
  missingFrom: number;
}

/**
 * Splits a topic's segment `numbers` (ascending) at its stored cursor.
 * Retention deletes the segments before the cursor's once that cursor is
 * durable; files still there were left by a crash in between and go the
 * same way. Only a WCP3 cursor (with `entriesBefore`) does that: a WCP2 one
 * keeps them, so they are scanned for their counts, released as consumed,
 * and deleted once the cursor is rewritten. An absent number is missing
 * only from the cursor's segment on (below it, the entries were consumed);
 * with no position (`readable` false: a damaged cursor, or none kept) from
 * the first segment there is, since retention may have deleted those before.
 */
export function splitAtCursor(numbers: readonly number[], stored: StoredCursor | undefined, readable: boolean): CursorSplit {
  const position = stored !== undefined && 'segment' in stored ? stored : undefined;
  const leftovers = position?.entriesBefore === undefined ? [] : numbers.filter((n) => n < position.segment);
  const rest = numbers.slice(leftovers.length);
  const missingFrom = position ? position.segment : readable ? 1 : (rest[0] ?? 1);
  return { position, leftovers, numbers: rest, missingFrom };
}
