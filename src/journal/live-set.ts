/** An appended, not yet released entry, as the journal keeps it in memory. */
export interface LiveEntry {
  seq: number;
  source: string;
  entry: Buffer;
  /** The segment holding its current APPEND record. */
  segment: number;
  /** Size of that APPEND record on disk. */
  bytes: number;
}

/** What the journal knows about one segment file. */
export interface SegmentInfo {
  id: number;
  /** Bytes in the file (header included). */
  size: number;
  /** APPEND records in this file that are still unreleased. */
  live: number;
}

/**
 * The unreleased entries and the per-segment counts that decide when a
 * segment can go. Pure bookkeeping: no I/O, so recovery and the writer share it.
 *
 * Entries are kept in memory: the live set is the coordinator's in-flight
 * window plus what a crash left behind, which the coordinator holds anyway,
 * and it lets compaction rewrite live entries without reading files back.
 */
export class LiveSet {
  readonly #entries = new Map<number, LiveEntry>();
  readonly #segments = new Map<number, SegmentInfo>();
  #liveBytes = 0;

  get size(): number {
    return this.#entries.size;
  }

  /** Bytes of the APPEND records of live entries (what a compaction would rewrite). */
  get liveBytes(): number {
    return this.#liveBytes;
  }

  addSegment(id: number, size: number): SegmentInfo {
    const info: SegmentInfo = { id, size, live: 0 };
    this.#segments.set(id, info);
    return info;
  }

  segment(id: number): SegmentInfo | undefined {
    return this.#segments.get(id);
  }

  /** Segments in ascending id order. */
  segments(): SegmentInfo[] {
    return [...this.#segments.values()].sort((a, b) => a.id - b.id);
  }

  removeSegment(id: number): void {
    this.#segments.delete(id);
  }

  totalBytes(): number {
    let total = 0;
    for (const info of this.#segments.values()) total += info.size;
    return total;
  }

  /**
   * Records an APPEND found in `segment`. A seq that is already live was
   * copied there by a compaction whose old segments were not deleted before
   * a crash: the newer copy wins, so the old segment can go.
   */
  add(entry: LiveEntry): void {
    const previous = this.#entries.get(entry.seq);
    if (previous) this.#detach(previous);
    this.#entries.set(entry.seq, entry);
    this.#liveBytes += entry.bytes;
    const info = this.#segments.get(entry.segment);
    if (info) info.live += 1;
  }

  /** Releases `seq`; false when it was not live (never appended, or already released). */
  release(seq: number): boolean {
    const entry = this.#entries.get(seq);
    if (!entry) return false;
    this.#entries.delete(seq);
    this.#detach(entry);
    return true;
  }

  has(seq: number): boolean {
    return this.#entries.has(seq);
  }

  /** Live entries in seq (= append) order. */
  entries(): LiveEntry[] {
    return [...this.#entries.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Moves every live entry into the compacted segment `target`, where their records now take `bytesOf(entry)`. */
  moveAll(target: number, bytesOf: (entry: LiveEntry) => number): void {
    for (const entry of this.#entries.values()) {
      this.#detach(entry);
      entry.segment = target;
      entry.bytes = bytesOf(entry);
      this.#liveBytes += entry.bytes;
      const info = this.#segments.get(target);
      if (info) info.live += 1;
    }
  }

  #detach(entry: LiveEntry): void {
    this.#liveBytes -= entry.bytes;
    const info = this.#segments.get(entry.segment);
    if (info) info.live -= 1;
  }
}
