import type { FileHandle } from 'node:fs/promises';
import {
  RECORD_HEADER_BYTES,
  RECORD_MAGIC,
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
  /**
   * Corrupt stretches in the middle of the file, each followed by a record
   * whose checksum verifies: scanning went on from there (`bytes` from
   * `offset` were unreadable; whatever records they held are lost).
   */
  skipped: Array<{ offset: number; bytes: number; problem: string }>;
}

const CHUNK_BYTES = 1024 * 1024;

/**
 * Most record bytes checksummed while looking for the next good record after
 * a bad one. A flipped bit or a torn write puts a good record (or the end)
 * within a record or two; past this the rest is treated as a corrupt tail.
 */
export const RESYNC_BUDGET_BYTES = 256 * 1024 * 1024;

/**
 * Reads the records of one segment in order, verifying each checksum.
 *
 * Reads go through a 1 MiB window, so recovery of a large segment costs a
 * few big reads instead of two per record; a record larger than the window
 * gets a buffer of its own, but only after its length passed the limit check
 * in `readHeader` (a corrupt length must not allocate gigabytes).
 *
 * At a bad record the framing itself is suspect, so the scan looks for the
 * next offset where a whole record verifies (magic, type, length within the
 * limit and the file, crc32 over header and payload) and goes on from there:
 * every record has its own checksum, so a record found that way is as
 * trustworthy as any, and the entries after a flipped bit — already taken
 * from their source topic, so nowhere else — are not thrown away with it.
 * When no record verifies after the bad one, the rest is a torn or corrupt
 * tail (`problem`, `goodEnd`): the caller truncates it.
 *
 * With `firstRecordRequired` a bad record right after the header ends the
 * scan at once: for a file whose header is damaged, that record is what
 * shows it is a journal segment at all, and random bytes are not searched.
 */
export async function scanSegment(
  handle: FileHandle,
  fileSize: number,
  onRecord: (record: ScannedRecord) => void,
  options: { firstRecordRequired?: boolean } = {},
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

  /** The record at `pos` if it is whole and verifies, else why not. */
  const recordAt = async (pos: number): Promise<{ record: ScannedRecord } | { problem: string }> => {
    if (!(await ensure(pos, RECORD_HEADER_BYTES))) return { problem: `torn record header at offset ${pos}` };
    const header = readHeader(window, pos - windowStart);
    if (!header.ok) return { problem: `${header.problem} at offset ${pos}` };
    const total = RECORD_HEADER_BYTES + header.payloadLength;
    if (!(await ensure(pos, total))) return { problem: `torn record at offset ${pos} (${total} bytes, file ends first)` };
    const start = pos - windowStart;
    if (!checksumMatches(window, start, header.payloadLength, header.crc)) return { problem: `checksum mismatch in the record at offset ${pos}` };
    const payload = window.subarray(start + RECORD_HEADER_BYTES, start + total);
    if (header.type === RecordType.APPEND) {
      const append = decodeAppend(payload);
      return append ? { record: { type: RecordType.APPEND, bytes: total, append } } : { problem: `malformed APPEND record at offset ${pos}` };
    }
    const ranges = decodeRelease(payload);
    return ranges ? { record: { type: RecordType.RELEASE, bytes: total, ranges } } : { problem: `malformed RELEASE record at offset ${pos}` };
  };

  const skipped: ScanResult['skipped'] = [];
  let pos = SEGMENT_HEADER_BYTES;
  while (pos < fileSize) {
    const found = await recordAt(pos);
    if ('record' in found) {
      onRecord(found.record);
      pos += found.record.bytes;
      continue;
    }
    if (pos === SEGMENT_HEADER_BYTES && options.firstRecordRequired) return { goodEnd: pos, problem: found.problem, skipped };
    // A bad record: resume at the next one that verifies, if any (a byte at a time: only a magic byte is tried).
    // Checksumming is bounded (RESYNC_BUDGET_BYTES): bytes crafted so that every offset holds a plausible
    // header would otherwise cost a read and a checksum of up to a whole record each, hours for one segment.
    // The next magic byte is found with indexOf over the window (memchr), not a byte and an await at a time: a
    // segment followed by a gigabyte of zeros (a file extended by a crash or by hand) took over a minute per GiB.
    let next = -1;
    let checked = 0;
    for (let q = pos + 1; q + RECORD_HEADER_BYTES <= fileSize && next === -1; q += 1) {
      if (!(await ensure(q, 1))) break;
      const at = window.indexOf(RECORD_MAGIC, q - windowStart);
      if (at === -1) {
        q = windowStart + window.length - 1; // the loop's q += 1 moves to the first byte after the window
        continue;
      }
      q = windowStart + at;
      if (q + RECORD_HEADER_BYTES > fileSize || !(await ensure(q, RECORD_HEADER_BYTES))) break;
      const header = readHeader(window, q - windowStart);
      if (!header.ok || q + RECORD_HEADER_BYTES + header.payloadLength > fileSize) continue;
      checked += RECORD_HEADER_BYTES + header.payloadLength;
      if (checked > RESYNC_BUDGET_BYTES) {
        return { goodEnd: pos, problem: `${found.problem}; the search for a record after it gave up after checking ${RESYNC_BUDGET_BYTES / 2 ** 20} MiB at ${q - pos} offsets (not a torn write: crafted or garbage bytes)`, skipped };
      }
      if ('record' in (await recordAt(q))) next = q;
    }
    if (next === -1) return { goodEnd: pos, problem: found.problem, skipped };
    skipped.push({ offset: pos, bytes: next - pos, problem: found.problem });
    pos = next;
  }
  return { goodEnd: pos, skipped };
}
