import { closeSync, ftruncateSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { CursorFile } from './cursor-file.js';
import { entriesIn, indexOfStored, positionOf, type StoredCursor } from './cursor-position.js';
import { createSegment, writeFully } from './segment-create.js';
import { ENTRY_HEADER_BYTES, SEGMENT_HEADER_BYTES, encodeEntryInto } from './segment-format.js';
import { segmentFileName } from './topic-dirs.js';
import { withFile } from '../../util/disk-full.js';
import type { TopicLog, TopicRecovery, TopicSnapshot } from './types.js';

export { createSegment, writeFully } from './segment-create.js';

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
  /** A consumed sealed segment is read no more: its descriptor, if open, is closed (once its writes are synced). */
  release(segment: Segment): void;
}

export interface Segment {
  readonly number: number;
  readonly path: string;
  /** The active segment's descriptor; undefined once sealed (reads then go through `LogOwner.sealedFd`). */
  fd?: number;
  /** File offset of each entry's header (emptied when the segment is released). */
  offsets: number[];
  released?: number; // set when the segment was wholly consumed and let go: its entry count
  /** Bytes in the file (entries not yet flushed live in the topic's pending buffer). */
  written: number;
  /**
   * Entry index → end offset, for the few entries recovery found followed
   * by a damaged region it stepped over (elsewhere an entry ends where the
   * next one starts). Absent when the segment had no damage.
   */
  gaps?: ReadonlyMap<number, number>;
}

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
  readonly #segments: Segment[];
  readonly #cursorFile: CursorFile | undefined;
  #sealedEntries = 0;
  /** Segments released from the front (see #releaseConsumed), and the entries they hold. */
  #released = 0;
  #releasedEntries = 0;
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
    segments: Segment[];
    cursorFile?: CursorFile;
    /** Where reading resumes: a stored position (or legacy count); undefined = the start. */
    cursor: StoredCursor | undefined;
    /** What recovery repaired in this topic's files (reported by STATE). */
    recovery?: TopicRecovery;
  }) {
    this.name = init.name;
    this.dir = init.dir;
    this.#owner = init.owner;
    this.#segmentEntries = init.segmentEntries;
    this.#segments = init.segments;
    this.#cursorFile = init.cursorFile;
    this.#recovery = init.recovery;
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
    if (this.#current.offsets.length >= this.#segmentEntries) this.#roll();
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
    if (current.offsets.length >= this.#segmentEntries) this.#rollAfterAppend();
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
    if (this.#current.offsets.length >= this.#segmentEntries) this.#roll(); // fails storing nothing
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
    let left = index;
    let s = 0;
    while (s < this.#segments.length - 1 && left >= entriesIn(this.#segments[s]!)) {
      left -= entriesIn(this.#segments[s]!);
      s++;
    }
    const segment = this.#segments[s]!;
    if (index < 0 || left >= entriesIn(segment)) throw new RangeError(`topic ${this.name} has no entry ${index}`);
    if (segment.released !== undefined) throw new RangeError(`entry ${index} of topic ${this.name} was consumed and its segment ${segment.number} released`);
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
    for (let i = 0; i < this.#segments.length - 1; i++) sealed.push([this.#segments[i]!.number, entriesIn(this.#segments[i]!)]);
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
      const position = positionOf(this.#segments, this.#hold ?? this.#cursor, this.#end(this.#current));
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

  #seek(position: number): void {
    let left = position;
    this.#readSegment = 0;
    while (this.#readSegment < this.#segments.length - 1 && left >= entriesIn(this.#segments[this.#readSegment]!)) {
      left -= entriesIn(this.#segments[this.#readSegment]!);
      this.#readSegment++;
    }
    this.#readIndex = left;
    this.#cursor = position;
  }

  /**
   * Lets go of the sealed segments before the read position whose every
   * entry is consumed (below the held cursor too, so no lease can want one
   * again): their entry offsets and their descriptor if open. Kept, a node held 8
   * bytes per entry ever written and one descriptor per sealed segment for
   * as long as it ran, and again after a restart (1,000 descriptors after
   * 1,000,000 entries of 1,000-entry segments, all read). The file stays.
   */
  #releaseConsumed(): void {
    const floor = Math.min(this.#hold ?? this.#cursor, this.#cursor);
    while (this.#released < this.#readSegment) {
      const segment = this.#segments[this.#released]!;
      const count = segment.offsets.length;
      if (this.#releasedEntries + count > floor) return;
      segment.released = count;
      segment.offsets = [];
      delete segment.gaps;
      if (this.#cache?.segment === segment) this.#cache = undefined;
      this.#owner.release(segment);
      this.#released++;
      this.#releasedEntries += count;
    }
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
