import type { FileHandle } from 'node:fs/promises';
import {
  RECORD_HEADER_BYTES,
  RecordType,
  checksumMatches,
  decodeAppend,
  decodeRelease,
  readHeader,
  type DecodedAppend,
  type SeqRange,
} from './record-format.js';
import { SEGMENT_HEADER_BYTES } from './segment-file.js';

/** One record found by {@link scanSegment}, with its size on disk. */
export type ScannedRecord =
  | { type: typeof RecordType.APPEND; bytes: number; append: DecodedAppend }
  | { type: typeof RecordType.RELEASE; bytes: number; ranges: SeqRange[] };

export interface ScanResult {
  /** Offset just past the last good record: everything from here on is not trusted. */
  goodEnd: number;
  /** Why scanning stopped before the end of the file (torn tail or corruption), if it did. */
  problem?: string;
}

const CHUNK_BYTES = 1024 * 1024;

/**
 * Reads the records of one segment in order, verifying each checksum.
 *
 * Reads go through a 1 MiB window, so recovery of a large segment costs a
 * few big reads instead of two per record; a record larger than the window
 * gets a buffer of its own, but only after its length passed the limit check
 * in `readHeader` (a corrupt length must not allocate gigabytes). Scanning
 * stops at the first bad record: after a checksum failure the framing
 * itself is suspect, so no later byte of the file is trusted.
 */
export async function scanSegment(
  handle: FileHandle,
  fileSize: number,
  onRecord: (record: ScannedRecord) => void,
): Promise<ScanResult> {
  let window = Buffer.alloc(0);
  let windowStart = 0;

  /** Makes `[pos, pos + n)` available in `window`; false when the file ends first. */
  const ensure = async (pos: number, n: number): Promise<boolean> => {
    if (pos + n > fileSize) return false;
    if (pos >= windowStart && pos + n <= windowStart + window.length) return true;
    const size = Math.min(Math.max(n, CHUNK_BYTES), fileSize - pos);
    const buf = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(buf, filled, size - filled, pos + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    window = buf.subarray(0, filled);
    windowStart = pos;
    return filled >= n;
  };

  let pos = SEGMENT_HEADER_BYTES;
  while (pos < fileSize) {
    if (!(await ensure(pos, RECORD_HEADER_BYTES))) return { goodEnd: pos, problem: `torn record header at offset ${pos}` };
    const at = pos - windowStart;
    const header = readHeader(window, at);
    if (!header.ok) return { goodEnd: pos, problem: `${header.problem} at offset ${pos}` };
    const total = RECORD_HEADER_BYTES + header.payloadLength;
    if (!(await ensure(pos, total))) return { goodEnd: pos, problem: `torn record at offset ${pos} (${total} bytes, file ends first)` };
    const start = pos - windowStart;
    if (!checksumMatches(window, start, header.payloadLength, header.crc)) {
      return { goodEnd: pos, problem: `checksum mismatch in the record at offset ${pos}` };
    }
    const payload = window.subarray(start + RECORD_HEADER_BYTES, start + total);
    if (header.type === RecordType.APPEND) {
      const append = decodeAppend(payload);
      if (!append) return { goodEnd: pos, problem: `malformed APPEND record at offset ${pos}` };
      onRecord({ type: RecordType.APPEND, bytes: total, append });
    } else {
      const ranges = decodeRelease(payload);
      if (!ranges) return { goodEnd: pos, problem: `malformed RELEASE record at offset ${pos}` };
      onRecord({ type: RecordType.RELEASE, bytes: total, ranges });
    }
    pos += total;
  }
  return { goodEnd: pos };
}
