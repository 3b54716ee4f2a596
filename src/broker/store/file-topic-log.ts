import { closeSync, ftruncateSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { CursorFile } from './cursor-file.js';
import { indexOfStored, positionOf, type StoredCursor } from './cursor-position.js';
import { createSegment, writeFully } from './segment-create.js';
import { ENTRY_HEADER_BYTES, SEGMENT_HEADER_BYTES, encodeEntryInto } from './segment-format.js';
import { segmentFileName } from './topic-dirs.js';
import { withFile } from '../../util/disk-full.js';
import type { LogOwner, Segment } from './log-owner.js';
import type { TopicLog, TopicRecovery, TopicSnapshot } from './types.js';

export { createSegment, writeFully } from './segment-create.js';
export type { LogOwner, Segment } from './log-owner.js';

const READ_AHEAD_BYTES = 64 * 1024; // per topic, only while its reader is behind the pending buffer
const PENDING_INITIAL_BYTES = 64 * 1024;

/**
 * One topic: a list of segment files, the last one taking appends, and the
 * shared read cursor. Appends go to an in-memory pending buffer that the
 * store writes out once per event-loop turn (group commit), so a burst of
 * PUTs costs one `write` per topic, not one per entry. Reads come from the
 * pending buffer or, for older entries, from the file through a 64 KiB
 * read-ahead block.
 */
export class FileTopicLog implements TopicLog {
  readonly name: string;
  readonly dir: string;
  readonly #owner: LogOwner;
  readonly #segmentEntries: number;
  readonly #segmentBytes: number;
  readonly #segments: Segment[];
  readonly #cursorFile: CursorFile | undefined;
  /** Entries in sealed segments over the topic's life (released ones included). */
  #sealedEntries = 0;
  /** Index (over the topic's life) of the first entry of `#segments[0]`: entries of segments released before it. */
  #base: number;
  /** Allocated on the first append, so thousands of idle topics cost no buffer memory. */
  #pending: Buffer = Buffer.alloc(0);
  #pendingLength = 0;
  #cursor = 0;
  #readSegment = 0;
  #readIndex = 0;
  #cursorDirty = false;
  /** Set while leased entries are unacknowledged: the cursor value persisted instead of `#cursor`. */
  #hold: number | undefined;
  #cache: { segment: Segment; start: number; bytes: Buffer } | undefined;

  readonly #recovery: TopicRecovery | undefined;

  constructor(init: {
    name: string;
    dir: string;
    owner: LogOwner;
    segmentEntries: number;
    /** Bytes at which a segment is sealed even short of `segmentEntries`; 0 = no bound. */
    segmentBytes?: number;
    segments: Segment[];
    cursorFile?: CursorFile;
    /** Where reading resumes: a stored position (or legacy count); undefined = the start. */
    cursor: StoredCursor | undefined;
    /** Segments before `segments[0]` were deleted: the index of its first entry over the topic's life. @default 0 */
    base?: number;
    /** What recovery repaired in this topic's files (reported by STATE). */
    recovery?: TopicRecovery;
  }) {
    this.name = init.name;
    this.dir = init.dir;
    this.#owner = init.owner;
    this.#segmentEntries = init.segmentEntries;
    this.#segmentBytes = init.segmentBytes || Number.POSITIVE_INFINITY;
    this.#segments = init.segments;
    this.#cursorFile = init.cursorFile;
    this.#recovery = init.recovery;
    this.#base = init.base ?? 0;
    this.#sealedEntries = this.#base;
    for (let i = 0; i < this.#segments.length - 1; i++) this.#sealedEntries += this.#segments[i]!.offsets.length;
    this.#seek(indexOfStored(this.#segments, init.cursor));
    // A newest segment already full is sealed by the next append (see `append`), not here: on a full disk a start
    // that rolled over failed, so the node refused to serve even reads.
    this.#releaseConsumed();
  }

  get totalEntries(): number {
    return this.#sealedEntries + this.#current.offsets.length;
  }

  get #current(): Segment {
    return this.#segments[this.#segments.length - 1]!;
  }

  append(payload: Uint8Array): void {
    // A rollover that failed after the previous append (a full disk) is tried again first. Failing
    // here stores nothing of this entry, so the ERR its PUT gets is true and a retry stores it once.
    if (this.#full()) this.#roll();
    const need = ENTRY_HEADER_BYTES + payload.length;
    if (this.#pendingLength + need > this.#pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.#pending.length * 2, this.#pendingLength + need, PENDING_INITIAL_BYTES));
      this.#pending.copy(grown, 0, 0, this.#pendingLength);
      this.#pending = grown;
    }
    const current = this.#current;
    current.offsets.push(current.written + this.#pendingLength);
    this.#pendingLength += encodeEntryInto(this.#pending, this.#pendingLength, payload);
    this.#owner.changed();
    this.#owner.dirty(this);
    if (this.#full()) this.#rollAfterAppend();
  }

  /**
   * The current segment holds `segmentEntries` entries or `segmentBytes` bytes: the next append rolls over.
   * Never an empty one: its header alone reached a `segmentBytes` of 16 or less, which sealed an empty segment before every entry.
   */
  #full(): boolean {
    const current = this.#current;
    const count = current.offsets.length;
    return count >= this.#segmentEntries || (count > 0 && current.written + this.#pendingLength >= this.#segmentBytes);
  }

  /**
   * A BATCH_PUT's entries, all or none. A rollover the batch needs midway can
   * fail (a full disk): the entries it appended before are taken back, so the
   * ERR its client gets is true and a retry stores each entry once (they were
   * kept: a retried `a b c` stored a, b, a, b, c). Taken back only within the
   * segment the batch began in; with `segmentEntries` below the batch's size
   * a batch can span a rollover that worked and one that failed, and keeps
   * what went into the sealed segment.
   */
  appendBatch(payloads: readonly Uint8Array[]): void {
    if (this.#full()) this.#roll(); // fails storing nothing
    const segment = this.#current;
    const count = segment.offsets.length;
    const start = segment.written + this.#pendingLength;
    try {
      for (const payload of payloads) this.append(payload);
    } catch (error) {
      if (this.#current === segment) this.#takeBack(segment, count, start);
      throw error;
    }
  }

  /** Forgets the entries of `segment` from index `count` (file offset `start`) on: pending, or written by a rollover that then failed. */
  #takeBack(segment: Segment, count: number, start: number): void {
    try {
      // Bytes past the end kept are cut too: those of a write that failed part-way (ENOSPC, EFBIG) hold
      // whole entries of the batch, which a restart's recovery would otherwise find and serve.
      ftruncateSync(segment.fd!, Math.min(segment.written, start));
    } catch {
      return; // the entries stay stored and indexed, as before: the ERR is then only partly true
    }
    if (segment.written > start) {
      segment.written = start;
      this.#pendingLength = 0;
    } else {
      this.#pendingLength = start - segment.written;
    }
    segment.offsets.length = count;
    this.#owner.needsSync(segment.fd!);
  }

  read(): Buffer | undefined {
    if (!this.#advanceToReadable()) return undefined;
    const entry = this.#entry(this.#segments[this.#readSegment]!, this.#readIndex);
    this.#consumed(1);
    return entry;
  }

  readBatch(maxEntries: number, accept: (length: number, index: number) => boolean): Buffer[] {
    const out: Buffer[] = [];
    while (out.length < maxEntries && this.#advanceToReadable()) {
      const segment = this.#segments[this.#readSegment]!;
      if (!accept(this.#entryLength(segment, this.#readIndex), out.length)) break;
      out.push(this.#entry(segment, this.#readIndex));
      this.#readIndex++;
      this.#cursor++;
    }
    if (out.length > 0) this.#consumed(0);
    return out;
  }

  get readPosition(): number {
    return this.#cursor;
  }

  readAt(index: number): Buffer {
    let left = index - this.#base;
    if (left < 0) throw new RangeError(`entry ${index} of topic ${this.name} was consumed and its segment released`);
    let s = 0;
    while (s < this.#segments.length - 1 && left >= this.#segments[s]!.offsets.length) {
      left -= this.#segments[s]!.offsets.length;
      s++;
    }
    const segment = this.#segments[s]!;
    if (left >= segment.offsets.length) throw new RangeError(`topic ${this.name} has no entry ${index}`);
    return this.#entry(segment, left);
  }

  holdCursor(position: number | undefined): void {
    const before = this.#hold ?? this.#cursor;
    this.#hold = position;
    if ((position ?? this.#cursor) === before) return;
    this.#cursorDirty = true;
    this.#owner.changed();
    this.#owner.dirty(this);
  }

  snapshot(): TopicSnapshot {
    const sealed: Array<readonly [number, number]> = [];
    for (let i = 0; i < this.#segments.length - 1; i++) sealed.push([this.#segments[i]!.number, this.#segments[i]!.offsets.length]);
    return {
      currentSegment: this.#current.number,
      sealed,
      sealedEntries: this.#sealedEntries,
      totalEntries: this.totalEntries,
      readCursor: this.#cursor,
      committedCursor: this.#hold ?? this.#cursor,
      ...(this.#recovery ? { recovery: this.#recovery } : {}),
    };
  }

  /** Writes pending entries and the cursor to the OS (called by the store's flush). */
  flush(): void {
    this.#writePending();
    this.#releaseConsumed();
    if (this.#cursorDirty && this.#cursorFile) {
      // A position, not a count: it stays on the same entry even if a later recovery drops an older one.
      const position = positionOf(this.#segments, (this.#hold ?? this.#cursor) - this.#base, this.#end(this.#current), this.#base);
      try {
        this.#cursorFile.write(position);
      } catch (error) {
        throw withFile(error, join(this.dir, 'cursor'));
      }
      this.#owner.needsSync(this.#cursorFile.fd);
    }
    this.#cursorDirty = false;
  }

  /** Closes its descriptors (sealed segments' belong to the store's pool), even when some fail. */
  close(): void {
    const fds = this.#segments.flatMap((s) => (s.fd === undefined ? [] : [s.fd]));
    if (this.#cursorFile) fds.push(this.#cursorFile.fd);
    for (const fd of fds) {
      try {
        closeSync(fd);
      } catch {
        // Already closed or invalid: nothing left to release.
      }
    }
    this.#cache = undefined;
  }

  #consumed(step: number): void {
    this.#readIndex += step;
    this.#cursor += step;
    this.#cursorDirty = true;
    this.#owner.changed();
    this.#owner.dirty(this);
  }

  /** Moves the read position past exhausted sealed segments; true when an entry is available. */
  #advanceToReadable(): boolean {
    for (;;) {
      const segment = this.#segments[this.#readSegment]!;
      if (this.#readIndex < segment.offsets.length) return true;
      if (this.#readSegment === this.#segments.length - 1) return false;
      this.#readSegment++;
      this.#readIndex = 0;
    }
  }

  /** Moves the read position to entry `position` of `#segments` (0-based over them). */
  #seek(position: number): void {
    let left = position;
    this.#readSegment = 0;
    while (this.#readSegment < this.#segments.length - 1 && left >= this.#segments[this.#readSegment]!.offsets.length) {
      left -= this.#segments[this.#readSegment]!.offsets.length;
      this.#readSegment++;
    }
    this.#readIndex = left;
    this.#cursor = this.#base + position;
  }

  /**
   * Lets go of the sealed segments before the read position whose every
   * entry is consumed, below the held cursor too, so no lease can hand one
   * out again (and the persisted cursor, written after this, is past them):
   * their index and descriptor, and — when cursors persist — their files,
   * deleted by the store once that cursor is durable (retention). Kept, a
   * node held 8 bytes per entry ever written and one descriptor per sealed
   * segment for as long as it ran, and its disk grew with everything ever
   * written. With volatile cursors the files stay: a restart reads them again.
   */
  #releaseConsumed(): void {
    const floor = Math.min(this.#hold ?? this.#cursor, this.#cursor);
    this.#advanceToReadable(); // a segment read to its end is behind the read position even before the next read
    let count = 0;
    let entries = 0;
    while (count < this.#readSegment) {
      const n = this.#segments[count]!.offsets.length;
      if (this.#base + entries + n > floor) break;
      entries += n;
      count++;
    }
    if (count === 0) return;
    const gone = this.#segments.splice(0, count);
    this.#base += entries;
    this.#readSegment -= count;
    if (this.#cache && gone.includes(this.#cache.segment)) this.#cache = undefined;
    this.#owner.release(gone, this.#cursorFile !== undefined);
    if (!this.#cursorFile) return;
    // The files go once a cursor past them is durable: make sure one is written (after a start, the
    // stored cursor may be of an older format, or only in the page cache of a process that crashed).
    this.#cursorDirty = true;
    this.#owner.changed();
    this.#owner.dirty(this);
  }

  #end(segment: Segment): number {
    return segment === this.#current ? segment.written + this.#pendingLength : segment.written;
  }

  #entryLength(segment: Segment, index: number): number {
    const start = segment.offsets[index]!;
    const next = segment.gaps?.get(index) ?? (index + 1 < segment.offsets.length ? segment.offsets[index + 1]! : this.#end(segment));
    return next - start - ENTRY_HEADER_BYTES;
  }

  /** The payload of one entry: a view valid until the next call on this log. */
  #entry(segment: Segment, index: number): Buffer {
    const start = segment.offsets[index]! + ENTRY_HEADER_BYTES;
    const end = start + this.#entryLength(segment, index);
    if (start >= segment.written) {
      this.#cache = undefined; // caught up: the read-ahead block is no longer needed
      return this.#pending.subarray(start - segment.written, end - segment.written);
    }
    const cache = this.#cache;
    if (cache && cache.segment === segment && start >= cache.start && end <= cache.start + cache.bytes.length) {
      return cache.bytes.subarray(start - cache.start, end - cache.start);
    }
    // A fresh block each time: views handed out from the previous one stay valid.
    const length = Math.min(Math.max(READ_AHEAD_BYTES, end - start), segment.written - start);
    const bytes = Buffer.allocUnsafe(length);
    const fd = segment.fd ?? this.#owner.sealedFd(segment);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, bytes, got, length - got, start + got);
      if (n === 0) throw new Error(`segment ${segment.number} of topic ${this.name} is shorter than its index`);
      got += n;
    }
    this.#cache = { segment, start, bytes };
    return bytes.subarray(0, end - start);
  }

  #writePending(): void {
    if (this.#pendingLength === 0) return;
    const current = this.#current;
    try {
      writeFully(current.fd!, this.#pending, this.#pendingLength, current.written);
    } catch (error) {
      throw withFile(error, join(this.dir, segmentFileName(current.number)));
    }
    current.written += this.#pendingLength;
    this.#pendingLength = 0;
    this.#owner.needsSync(current.fd!);
    // Give back memory after a burst.
    if (this.#pending.length > 4 * 1024 * 1024) this.#pending = Buffer.alloc(0);
  }

  /**
   * The rollover right after the append that filled the segment. That entry
   * is stored, so its PUT must not fail: an ERR made clients write it again,
   * and while the next segment could not be created every retry stored one
   * more copy. A failure waits for the next append (see `append`).
   */
  #rollAfterAppend(): void {
    try {
      this.#roll();
    } catch {
      // Tried again by the next append; a failed write of pending entries recurs at the next flush, which stops the node.
    }
  }

  /** Seals the current segment and opens the next, like a Walrus rollover at `WALRUS_MAX_SEGMENT_ENTRIES`. */
  #roll(): void {
    this.#writePending();
    const sealed = this.#current;
    const number = sealed.number + 1;
    const path = join(this.dir, segmentFileName(number));
    const fd = createSegment(path, number);
    this.#segments.push({ number, path, fd, offsets: [], written: SEGMENT_HEADER_BYTES });
    this.#sealedEntries += sealed.offsets.length;
    const sealedFd = sealed.fd!;
    delete sealed.fd;
    this.#owner.needsSync(fd, this.dir);
    this.#owner.segmentSealed(sealed, sealedFd);
    this.#owner.changed();
  }
}
