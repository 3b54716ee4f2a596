import { crc32 } from 'node:zlib';

/**
 * The on-disk record layout of the journal. Bytes only: no files, no state.
 *
 * ```
 * record  = header(12) payload
 * header  = magic u8 (0xA7) | type u8 | reserved u16 (0) | payload length u32 LE | crc32 u32 LE
 * crc32   = zlib.crc32 over header bytes 0..8, then the payload
 * APPEND  = seq u64 LE | source length u16 LE | source UTF-8 | entry bytes (the rest)
 * RELEASE = range count u32 LE | (first seq u64 LE | count u32 LE) * range count
 * ```
 *
 * The checksum covers the type and the length, so a flipped length is caught
 * like a flipped payload byte, and the length is checked against
 * {@link MAX_RECORD_PAYLOAD_BYTES} before anything is allocated for it.
 */

export const RECORD_MAGIC = 0xa7;
export const RECORD_HEADER_BYTES = 12;

export const RecordType = { APPEND: 1, RELEASE: 2 } as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** Largest entry one APPEND may carry: far above a Walrus entry (≤ 64 KiB), small enough to bound recovery reads. */
export const MAX_ENTRY_BYTES = 16 * 1024 * 1024;
/** Largest source name (UTF-8 bytes); sources are topic or source names, ≤ 249 characters in practice. */
export const MAX_SOURCE_BYTES = 1024;
/** Ranges per RELEASE record: bigger releases are split, which keeps each record under 1 MiB. */
export const MAX_RANGES_PER_RECORD = 65_536;
const APPEND_FIXED_BYTES = 8 + 2;
const RANGE_BYTES = 8 + 4;
export const MAX_RECORD_PAYLOAD_BYTES = APPEND_FIXED_BYTES + MAX_SOURCE_BYTES + MAX_ENTRY_BYTES;

const TWO_32 = 2 ** 32;

function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32LE(value % TWO_32, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * TWO_32;
}

function frame(type: RecordType, payloadLength: number): Buffer {
  const buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payloadLength);
  buf[0] = RECORD_MAGIC;
  buf[1] = type;
  buf.writeUInt16LE(0, 2);
  buf.writeUInt32LE(payloadLength, 4);
  return buf;
}

function seal(buf: Buffer): Buffer {
  const crc = crc32(buf.subarray(RECORD_HEADER_BYTES), crc32(buf.subarray(0, 8)));
  buf.writeUInt32LE(crc, 8);
  return buf;
}

/** Encodes one APPEND record; `sourceBytes` is the UTF-8 of the source name (callers validate sizes). */
export function encodeAppend(seq: number, sourceBytes: Buffer, entry: Uint8Array): Buffer {
  const payloadLength = APPEND_FIXED_BYTES + sourceBytes.length + entry.length;
  const buf = frame(RecordType.APPEND, payloadLength);
  let at = RECORD_HEADER_BYTES;
  writeU64(buf, seq, at);
  at += 8;
  buf.writeUInt16LE(sourceBytes.length, at);
  at += 2;
  sourceBytes.copy(buf, at);
  at += sourceBytes.length;
  buf.set(entry, at);
  return seal(buf);
}

/** A run of consecutive seqs: `first`, `first + 1`, …, `first + count - 1`. */
export interface SeqRange {
  first: number;
  count: number;
}

/** Sorts and dedupes `seqs` into ranges, so releasing a contiguous window costs 12 bytes. */
export function toRanges(seqs: readonly number[]): SeqRange[] {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const ranges: SeqRange[] = [];
  for (const seq of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && last.first + last.count === seq) last.count += 1;
    else ranges.push({ first: seq, count: 1 });
  }
  return ranges;
}

/** Encodes RELEASE records for `ranges` (several when there are more than {@link MAX_RANGES_PER_RECORD}). */
export function encodeRelease(ranges: readonly SeqRange[]): Buffer[] {
  const out: Buffer[] = [];
  for (let start = 0; start < ranges.length; start += MAX_RANGES_PER_RECORD) {
    const part = ranges.slice(start, start + MAX_RANGES_PER_RECORD);
    const buf = frame(RecordType.RELEASE, 4 + part.length * RANGE_BYTES);
    let at = RECORD_HEADER_BYTES;
    buf.writeUInt32LE(part.length, at);
    at += 4;
    for (const range of part) {
      writeU64(buf, range.first, at);
      buf.writeUInt32LE(range.count, at + 8);
      at += RANGE_BYTES;
    }
    out.push(seal(buf));
  }
  return out;
}

/** What the 12-byte header says, or why it cannot be a record. */
export type HeaderCheck =
  | { ok: true; type: RecordType; payloadLength: number; crc: number }
  | { ok: false; problem: string };

export function readHeader(buf: Buffer, offset: number): HeaderCheck {
  if (buf[offset] !== RECORD_MAGIC) return { ok: false, problem: `bad record magic 0x${(buf[offset] ?? 0).toString(16)}` };
  const type = buf[offset + 1];
  if (type !== RecordType.APPEND && type !== RecordType.RELEASE) return { ok: false, problem: `unknown record type ${type}` };
  const payloadLength = buf.readUInt32LE(offset + 4);
  if (payloadLength > MAX_RECORD_PAYLOAD_BYTES) {
    return { ok: false, problem: `record length ${payloadLength} exceeds the ${MAX_RECORD_PAYLOAD_BYTES}-byte limit` };
  }
  return { ok: true, type, payloadLength, crc: buf.readUInt32LE(offset + 8) };
}

/** True when the record at `offset` (header already read) matches its checksum. */
export function checksumMatches(buf: Buffer, offset: number, payloadLength: number, expected: number): boolean {
  const payload = buf.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + payloadLength);
  return crc32(payload, crc32(buf.subarray(offset, offset + 8))) === expected;
}

export interface DecodedAppend {
  seq: number;
  source: string;
  /** A copy: the caller's read buffer may be reused. */
  entry: Buffer;
}

/** Decodes an APPEND payload; undefined when its inner lengths do not add up. */
export function decodeAppend(payload: Buffer): DecodedAppend | undefined {
  if (payload.length < APPEND_FIXED_BYTES) return undefined;
  const seq = readU64(payload, 0);
  const sourceLength = payload.readUInt16LE(8);
  if (sourceLength > MAX_SOURCE_BYTES || APPEND_FIXED_BYTES + sourceLength > payload.length) return undefined;
  const source = payload.toString('utf8', APPEND_FIXED_BYTES, APPEND_FIXED_BYTES + sourceLength);
  const entry = Buffer.from(payload.subarray(APPEND_FIXED_BYTES + sourceLength));
  return { seq, source, entry };
}

/** Decodes a RELEASE payload; undefined when its inner lengths do not add up. */
export function decodeRelease(payload: Buffer): SeqRange[] | undefined {
  if (payload.length < 4) return undefined;
  const count = payload.readUInt32LE(0);
  if (payload.length !== 4 + count * RANGE_BYTES) return undefined;
  const ranges: SeqRange[] = [];
  for (let i = 0, at = 4; i < count; i += 1, at += RANGE_BYTES) {
    ranges.push({ first: readU64(payload, at), count: payload.readUInt32LE(at + 8) });
  }
  return ranges;
}

export { readU64, writeU64 };
