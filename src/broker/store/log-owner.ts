import type { FileTopicLog } from './file-topic-log.js';

/** What a topic log asks of the store that owns it. */
export interface LogOwner {
  /** One more change (append, cursor move) to make durable. */
  changed(): void;
  /** The log has pending writes for the next flush. */
  dirty(log: FileTopicLog): void;
  /** `fd` must be fdatasync'ed by the next sync; `dir` fsync'ed when files were created in it. */
  needsSync(fd: number, dir?: string): void;
  /** `segment` was sealed: `fd`, its descriptor while it was active, joins the node's bounded pool (segment-fds.ts). */
  segmentSealed(segment: Segment, fd: number): void;
  /** A descriptor to read sealed `segment` through, from that pool: opened on demand, closed when others need room. */
  sealedFd(segment: Segment): number;
  /**
   * Consumed sealed segments that nothing can read again: their descriptors,
   * if open, are closed (once their writes are synced); with `remove`, their
   * files are deleted once the cursor written past them is durable.
   */
  release(segments: readonly Segment[], remove: boolean): void;
}

export interface Segment {
  readonly number: number;
  readonly path: string;
  /** The active segment's descriptor; undefined once sealed (reads then go through `LogOwner.sealedFd`). */
  fd?: number;
  /** File offset of each entry's header. */
  offsets: number[];
  /** Bytes in the file (entries not yet flushed live in the topic's pending buffer). */
  written: number;
  /**
   * Entry index → end offset, for the few entries recovery found followed
   * by a damaged region it stepped over (elsewhere an entry ends where the
   * next one starts). Absent when the segment had no damage.
   */
  gaps?: ReadonlyMap<number, number>;
}
