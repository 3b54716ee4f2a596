import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { withFile } from '../../util/disk-full.js';
import { crc32 } from './crc32.js';
import { ENTRY_HEADER_BYTES, MAX_ENTRY_BYTES, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC, segmentHeader } from './segment-format.js';

/** One damaged region recovery stepped over, or the torn tail it cut. */
export interface SegmentDamage {
  /** File offset where the damage starts. */
  offset: number;
  bytes: number;
}

export type ScannedSegment =
  | {
      kind: 'ok';
      /** File offset of each valid entry's header. */
      offsets: number[];
      /** End of the last valid entry: the file's new length. */
      validBytes: number;
      /** Damaged regions between valid entries, skipped (the file keeps them; they are never served). */
      dropped: SegmentDamage[];
      /** Entry index → end offset, for each entry followed by a dropped region (its end is not the next entry's start). */
      gaps: Map<number, number>;
      /** Torn or corrupt tail cut off (bytes 0 when the file was clean). */
      truncated: SegmentDamage;
      /** The header was missing or cut short (a crash right after the file was created) and was rewritten. */
      headerRewritten: boolean;
    }
  | {
      /** The file is longer than a header but does not start with one: not ours, or badly damaged. Left untouched. */
      kind: 'bad-header';
      size: number;
    };

const WINDOW_BYTES = 4 << 20;

/**
 * Verifies every entry of a segment file. An entry whose checksum is wrong
 * is stepped over as a whole (its length says how far); one whose length is
 * implausible makes the scan look, byte by byte, for the next offset where a
 * whole entry checks out (a false match needs a plausible length and a
 * matching crc32, about 1 in 2^32), so one damaged byte costs one entry, not
 * the rest of the segment. An entry running past the end of the file is a
 * torn tail (see `resyncAfter`: never searched inside). Only a damaged region
 * with no valid entry after it — a torn tail — is cut off. Entries that
 * are kept never move, so a cursor stored as a file offset stays on them.
 * Reads in 4 MiB windows: recovery memory does not grow with the segment.
 */
export function scanAndRepairSegment(path: string, segment: number): ScannedSegment {
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const headerRead = size >= SEGMENT_HEADER_BYTES ? readSync(fd, header, 0, SEGMENT_HEADER_BYTES, 0) : 0;
    if (headerRead < SEGMENT_HEADER_BYTES || !header.subarray(0, 8).equals(SEGMENT_MAGIC)) {
      if (size > SEGMENT_HEADER_BYTES) return { kind: 'bad-header', size };
      try {
        ftruncateSync(fd, 0);
        writeSync(fd, segmentHeader(segment), 0, SEGMENT_HEADER_BYTES, 0);
        fsyncSync(fd);
      } catch (error) {
        throw withFile(error, path); // a full disk: the start's error names the segment and says what to do
      }
      return { kind: 'ok', offsets: [], validBytes: SEGMENT_HEADER_BYTES, dropped: [], gaps: new Map(), truncated: { offset: 0, bytes: size }, headerRewritten: size > 0 };
    }

    const reader = new WindowReader(fd, size);
    const offsets: number[] = [];
    const dropped: SegmentDamage[] = [];
    const gaps = new Map<number, number>();
    let at = SEGMENT_HEADER_BYTES;
    while (at < size) {
      const length = reader.entryAt(at);
      if (length >= 0) {
        offsets.push(at);
        at += ENTRY_HEADER_BYTES + length;
        continue;
      }
      const next = reader.resyncAfter(at);
      if (next === -1) break;
      dropped.push({ offset: at, bytes: next - at });
      if (offsets.length > 0) gaps.set(offsets.length - 1, at);
      at = next;
    }
    if (at < size) {
      ftruncateSync(fd, at);
      fsyncSync(fd);
    }
    return { kind: 'ok', offsets, validBytes: at, dropped, gaps, truncated: { offset: at, bytes: size - at }, headerRewritten: false };
  } finally {
    closeSync(fd);
  }
}

/** Positional reads of one file through a 4 MiB window. */
class WindowReader {
  readonly #fd: number;
  readonly #size: number;
  #window = Buffer.alloc(0);
  #start = 0;

  constructor(fd: number, size: number) {
    this.#fd = fd;
    this.#size = size;
  }

  /** The payload length of a valid entry at `at`, or -1. */
  entryAt(at: number): number {
    if (!this.#cover(at, ENTRY_HEADER_BYTES)) return -1;
    const length = this.#window.readUInt32LE(at - this.#start);
    if (length === 0 || length > MAX_ENTRY_BYTES || at + ENTRY_HEADER_BYTES + length > this.#size) return -1;
    const checksum = this.#window.readUInt32LE(at - this.#start + 4);
    if (!this.#cover(at, ENTRY_HEADER_BYTES + length)) return -1;
    const from = at - this.#start + ENTRY_HEADER_BYTES;
    return crc32(this.#window.subarray(from, from + length)) === checksum ? length : -1;
  }

  /**
   * Where to go on after the invalid entry at `at`, or -1 (cut the file at
   * `at`). A payload may itself contain bytes that look like valid entries (a
   * client can PUT them), and a crash that tore that payload's end must not
   * turn them into entries nobody wrote. So an entry whose checksum fails but
   * whose length stays inside the file is stepped over as a whole; otherwise
   * (a length running past the end of the file, or implausible) the scan
   * looks byte by byte for the next valid entry, and takes it only when valid
   * entries from there reach the end of the file exactly — a torn tail does
   * not end on an entry boundary of bytes found inside it.
   */
  resyncAfter(at: number): number {
    if (!this.#cover(at, ENTRY_HEADER_BYTES)) return -1;
    const length = this.#window.readUInt32LE(at - this.#start);
    if (length > 0 && length <= MAX_ENTRY_BYTES && at + ENTRY_HEADER_BYTES + length <= this.#size) {
      const end = at + ENTRY_HEADER_BYTES + length;
      if (end === this.#size) return -1;
      if (this.entryAt(end) >= 0) return end;
    }
    // A chain that breaks again is given up whole (the scan goes on after the break, never back
    // inside it: linear, not quadratic). With two damaged regions in one segment the entries
    // between them are dropped too.
    for (let p = this.nextEntryAfter(at); p !== -1;) {
      const end = this.#chainEnd(p);
      if (end === this.#size) return p;
      p = this.nextEntryAfter(end);
    }
    return -1;
  }

  /** Where the run of valid entries starting at `p` ends: the end of the file, or the first offset that is not a valid entry. */
  #chainEnd(p: number): number {
    let at = p;
    while (at < this.#size) {
      const length = this.entryAt(at);
      if (length < 0) return at;
      at += ENTRY_HEADER_BYTES + length;
    }
    return at;
  }

  /** The first offset after `at` where a valid entry starts, or -1. */
  nextEntryAfter(at: number): number {
    for (let p = at + 1; p + ENTRY_HEADER_BYTES <= this.#size; p++) {
      if (!this.#cover(p, ENTRY_HEADER_BYTES)) return -1;
      // Cheap pre-check before the checksum: most offsets fail on the length alone.
      const length = this.#window.readUInt32LE(p - this.#start);
      if (length === 0 || length > MAX_ENTRY_BYTES || p + ENTRY_HEADER_BYTES + length > this.#size) continue;
      if (this.entryAt(p) >= 0) return p;
    }
    return -1;
  }

  /** Makes the window hold [at, at + length); false past the end of the file. */
  #cover(at: number, length: number): boolean {
    if (at + length > this.#size) return false;
    if (at >= this.#start && at + length <= this.#start + this.#window.length) return true;
    const window = Buffer.allocUnsafe(Math.max(WINDOW_BYTES, length));
    const got = readSync(this.#fd, window, 0, Math.min(window.length, this.#size - at), at);
    this.#window = window.subarray(0, got);
    this.#start = at;
    return got >= length;
  }
}
