import { openSync } from 'node:fs';

/** Open sealed-segment descriptors a node keeps at most, unless told otherwise (see {@link SegmentFds}). */
export const DEFAULT_OPEN_SEALED_SEGMENTS = 128;

/** The slice of a sealed segment the pool needs: its file (the object itself is the key). */
export interface PooledSegment {
  readonly path: string;
}

/**
 * The descriptors of sealed segments, at most `limit` open for the whole
 * node, least recently used closed first. A sealed segment is only read,
 * so it is opened read-only when a read needs it and may be closed at any
 * time. Keeping one descriptor per unread sealed segment ran a node with
 * ~20,000 segments (small `--segment-entries`, many topics, a consumer that
 * stopped) out of descriptors: a rollover failed with EMFILE, and a restart
 * could not even listen. Reads walk a topic's segments in order, so each
 * segment is opened once per pass and the hit rate stays high.
 *
 * Each active segment (the one taking appends) keeps its own descriptor
 * outside the pool.
 */
export class SegmentFds {
  readonly #limit: number;
  /** `close(fd)` for a descriptor let go (the store closes it, after its pending fdatasync if any). */
  readonly #close: (fd: number) => void;
  /** Insertion order is use order: the first entry is the least recently used. */
  readonly #open = new Map<PooledSegment, number>();

  constructor(limit: number, close: (fd: number) => void) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`open sealed segments limit must be a positive integer, got ${limit}`);
    this.#limit = limit;
    this.#close = close;
  }

  /** Descriptors open now (for tests and STATE). */
  get size(): number {
    return this.#open.size;
  }

  /** A descriptor to read `segment` through, opened if it is not open (closing the least recently used one). */
  fd(segment: PooledSegment): number {
    const held = this.#open.get(segment);
    if (held !== undefined) {
      this.#open.delete(segment);
      this.#open.set(segment, held);
      return held;
    }
    this.#makeRoom(1);
    const fd = openSync(segment.path, 'r');
    this.#open.set(segment, fd);
    return fd;
  }

  /** Takes over the descriptor of a segment just sealed (it was the active one): reads of it soon after need no open. */
  adopt(segment: PooledSegment, fd: number): void {
    this.forget(segment);
    this.#makeRoom(1);
    this.#open.set(segment, fd);
  }

  /** Closes `segment`'s descriptor if it is open (the segment was released). */
  forget(segment: PooledSegment): void {
    const fd = this.#open.get(segment);
    if (fd === undefined) return;
    this.#open.delete(segment);
    this.#close(fd);
  }

  /** Closes every descriptor (the store is closing). */
  closeAll(): void {
    const fds = [...this.#open.values()];
    this.#open.clear();
    for (const fd of fds) this.#close(fd);
  }

  #makeRoom(needed: number): void {
    for (const [segment, fd] of this.#open) {
      if (this.#open.size + needed <= this.#limit) return;
      this.#open.delete(segment);
      this.#close(fd);
    }
  }
}
