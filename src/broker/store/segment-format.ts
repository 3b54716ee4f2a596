import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from './crc32.js';

/**
 * On-disk format of one segment file:
 *
 *   header  16 bytes  "WALRSEG" 0x01, then u64 LE segment number
 *   entry   [u32 LE payload length][u32 LE crc32(payload)][payload]  (repeated)
 *
 * Entries are only ever appended. A crash can leave a torn tail (a partial
 * header or payload, or a payload whose checksum does not match because
 * the OS wrote pages out of order); recovery keeps the longest valid prefix.
 */
export const SEGMENT_MAGIC = Buffer.from('WALRSEG\x01', 'latin1');
export const SEGMENT_HEADER_BYTES = 16;
export const ENTRY_HEADER_BYTES = 8;
/** Largest payload a valid entry can have (a whole frame); anything larger is corruption. */
export const MAX_ENTRY_BYTES = 65_536;

export function segmentHeader(segment: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(header, 0);
  header.writeBigUInt64LE(BigInt(segment), 8);
  return header;
}

/** Writes entry header and payload into `target` at `at`; returns the bytes written. */
export function encodeEntryInto(target: Buffer, at: number, payload: Uint8Array): number {
  target.writeUInt32LE(payload.length, at);
  target.writeUInt32LE(crc32(payload), at + 4);
  target.set(payload, at + ENTRY_HEADER_BYTES);
  return ENTRY_HEADER_BYTES + payload.length;
}

export interface ScannedSegment {
  /** File offset of each valid entry's header. */
  offsets: number[];
  /** End of the last valid entry: the file's new length. */
  validBytes: number;
  /** Bytes cut off as a torn or corrupt tail (0 when the file was clean). */
  truncatedBytes: number;
}

const WINDOW_BYTES = 4 << 20;

/**
 * Verifies every entry of a segment file and truncates it after the last
 * valid one. A missing or partial header (a crash right after creating the
 * file) is rewritten. Reads the file in 4 MiB windows, so recovery memory
 * does not grow with the segment size.
 */
export function scanAndRepairSegment(path: string, segment: number): ScannedSegment {
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const headerRead = size >= SEGMENT_HEADER_BYTES ? readSync(fd, header, 0, SEGMENT_HEADER_BYTES, 0) : 0;
    if (headerRead < SEGMENT_HEADER_BYTES || !header.subarray(0, 8).equals(SEGMENT_MAGIC)) {
      if (size > SEGMENT_HEADER_BYTES) {
        throw new Error(`${path} is not a walrus-stream segment (bad header) and holds ${size} bytes; refusing to overwrite it`);
      }
      ftruncateSync(fd, 0);
      writeSync(fd, segmentHeader(segment), 0, SEGMENT_HEADER_BYTES, 0);
      fsyncSync(fd);
      return { offsets: [], validBytes: SEGMENT_HEADER_BYTES, truncatedBytes: size };
    }

    const offsets: number[] = [];
    let window = Buffer.alloc(0);
    let windowStart = 0;
    const view = (at: number, length: number): Buffer | undefined => {
      if (at + length > size) return undefined;
      if (at < windowStart || at + length > windowStart + window.length) {
        window = Buffer.allocUnsafe(Math.max(WINDOW_BYTES, length));
        const got = readSync(fd, window, 0, Math.min(window.length, size - at), at);
        window = window.subarray(0, got);
        windowStart = at;
        if (got < length) return undefined;
      }
      return window.subarray(at - windowStart, at - windowStart + length);
    };

    let at = SEGMENT_HEADER_BYTES;
    for (;;) {
      const head = view(at, ENTRY_HEADER_BYTES);
      if (!head) break;
      const length = head.readUInt32LE(0);
      const checksum = head.readUInt32LE(4);
      if (length === 0 || length > MAX_ENTRY_BYTES) break;
      const payload = view(at + ENTRY_HEADER_BYTES, length);
      if (!payload || crc32(payload) !== checksum) break;
      offsets.push(at);
      at += ENTRY_HEADER_BYTES + length;
    }
    if (at < size) {
      ftruncateSync(fd, at);
      fsyncSync(fd);
    }
    return { offsets, validBytes: at, truncatedBytes: size - at };
  } finally {
    closeSync(fd);
  }
}
