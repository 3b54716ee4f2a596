import { WalrusError } from '../errors/index.js';
import { compress, flagFor, type CompressionCodec } from './compression.js';
import { ENVELOPE_MAGIC, ENVELOPE_VERSION, MAX_ENTRY_RECORDS, MAX_TIMESTAMP_MS, isEnvelopeTimestamp } from './envelope-format.js';
import { MsgpackWriter } from './msgpack-writer.js';
import { RECORD_ID_BYTES, recordIdBytes, writeNewRecordId } from './record-id.js';
import type { RecordToEncode } from './record-types.js';

/** Options of {@link encodeRecords}. */
export interface EncodeOptions {
  /** @default 'none' */
  compression?: CompressionCodec;
  /** Batches smaller than this many MessagePack bytes are not compressed. @default 1024 */
  compressionThreshold?: number;
  /** Stored once per batch as the values' content type. */
  contentType?: string;
  /** Clock seam for records without a timestamp. @default Date.now */
  now?: () => number;
}

export const DEFAULT_COMPRESSION_THRESHOLD = 1024;

/** The result of encoding: the entry and how the batch was stored. */
export interface EncodedEntry {
  entry: string;
  /** MessagePack bytes of the records before compression. */
  rawBytes: number;
  compressed: boolean;
}

/**
 * Encodes records as one envelope entry (a record batch). The entry is not
 * checked against any size limit here: {@link EntryPacker} does that.
 */
export function encodeRecords(records: readonly RecordToEncode[], opts: EncodeOptions = {}): string {
  return encodeBatch(records, opts).entry;
}

/** Like {@link encodeRecords}, also telling the raw size and whether compression was applied. */
export function encodeBatch(records: readonly RecordToEncode[], opts: EncodeOptions = {}): EncodedEntry {
  if (records.length === 0) throw new WalrusError('INVALID_ARGUMENT', 'A record batch needs at least one record.');
  if (records.length > MAX_ENTRY_RECORDS) {
    throw new WalrusError('INVALID_ARGUMENT', `A record batch of ${records.length} records is more than the ${MAX_ENTRY_RECORDS} one entry may hold (readers refuse it); encode them in several batches, or use a Producer, which splits them.`,
      { context: { records: records.length, limit: MAX_ENTRY_RECORDS } });
  }
  const now = opts.now ?? Date.now;
  const base = records[0]!.timestamp ?? now();
  let bound = 5;
  for (let i = 0; i < records.length; i++) bound += recordBound(records[i]!);
  const overhead = batchOverheadBound(opts.contentType);
  const codec = opts.compression ?? 'none';
  if (codec === 'none') {
    const w = new MsgpackWriter(bound + overhead);
    writeHead(w, base, opts.contentType, 1);
    w.str('r');
    writeRecords(w, records, base, now);
    return { entry: ENVELOPE_MAGIC + w.bytes().toString('base64url'), rawBytes: w.pos, compressed: false };
  }
  const inner = new MsgpackWriter(bound);
  writeRecords(inner, records, base, now);
  if (inner.pos >= (opts.compressionThreshold ?? DEFAULT_COMPRESSION_THRESHOLD)) {
    const z = compress(codec, inner.bytes());
    // Only flag compression when it pays: incompressible data stays as is.
    if (z.length < inner.pos) {
      const w = new MsgpackWriter(z.length + overhead);
      writeHead(w, base, opts.contentType, 2);
      w.str('c');
      w.str(flagFor(codec));
      w.str('z');
      w.bin(z);
      return { entry: ENVELOPE_MAGIC + w.bytes().toString('base64url'), rawBytes: inner.pos, compressed: true };
    }
  }
  const w = new MsgpackWriter(inner.pos + overhead);
  writeHead(w, base, opts.contentType, 1);
  w.str('r');
  inner.buf.copy(w.buf, w.pos, 0, inner.pos);
  w.pos += inner.pos;
  return { entry: ENVELOPE_MAGIC + w.bytes().toString('base64url'), rawBytes: inner.pos, compressed: false };
}

/** `{v, t, ct?` — then the caller writes `r` or `c`, `z` (`more` keys). */
export function writeHead(w: MsgpackWriter, base: number, contentType: string | undefined, more: number): void {
  w.mapHeader(2 + (contentType === undefined ? 0 : 1) + more);
  w.str('v');
  w.int(ENVELOPE_VERSION);
  w.str('t');
  w.float64(base);
  if (contentType !== undefined) {
    w.str('ct');
    w.str(contentType);
  }
}

/** The record array: `[id, dt, value, key?, headers?]` per record (see envelope-format.ts). */
function writeRecords(w: MsgpackWriter, records: readonly RecordToEncode[], base: number, now: () => number): void {
  w.arrayHeader(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    writeRecord(w, r.value, r.timestamp ?? now(), base, r.id, r.key, r.headers);
  }
}

/** Writes one record array `[id, dt, value, key?, headers?]`; `w` must have room for {@link boundOf} bytes. */
export function writeRecord(
  w: MsgpackWriter,
  value: Uint8Array,
  ts: number,
  base: number,
  id: string | Uint8Array | undefined,
  key: string | undefined,
  headers: Record<string, string> | undefined,
): void {
  assertTimestamp(ts);
  let pairs = 0;
  if (headers !== undefined) for (const _ in headers) pairs++;
  w.arrayHeader(pairs > 0 ? 5 : key !== undefined ? 4 : 3);
  if (id === undefined) {
    w.binHeader(RECORD_ID_BYTES);
    writeNewRecordId(w.buf, w.pos);
    w.pos += RECORD_ID_BYTES;
  } else if (typeof id === 'string') {
    const bytes = recordIdBytes(id);
    if (bytes) w.bin(bytes);
    else w.str(id);
  } else w.bin(id);
  w.int(ts - base);
  w.bin(value);
  if (pairs > 0 || key !== undefined) {
    if (key === undefined) w.nil();
    else w.str(key);
  }
  if (pairs > 0) {
    w.arrayHeader(pairs * 2);
    for (const name in headers) {
      w.str(name);
      w.str(headers[name]!);
    }
  }
}

/** Throws INVALID_ARGUMENT unless `ts` is a timestamp an envelope can carry (envelope-format.ts, MAX_TIMESTAMP_MS). */
export function assertTimestamp(ts: number): void {
  if (!isEnvelopeTimestamp(ts)) {
    throw new WalrusError('INVALID_ARGUMENT',
      `A record timestamp must be an integer number of milliseconds within ±${MAX_TIMESTAMP_MS} (the range of a JavaScript Date), got ${ts}.`);
  }
}

/**
 * An upper bound of the MessagePack bytes one record takes in a batch
 * (fixed-size headers counted at their widest). Packing by this bound
 * guarantees an uncompressed batch fits without encoding twice.
 */
export function recordBound(record: RecordToEncode): number {
  return boundOf(record.value, record.id, record.key, record.headers);
}

/** {@link recordBound} from the fields. */
export function boundOf(value: Uint8Array, id: string | Uint8Array | undefined, key: string | undefined, headers: Record<string, string> | undefined): number {
  let n = 1 + 9 + 5 + value.byteLength; // array header, dt, value header + bytes
  n += id === undefined ? 18 : typeof id === 'string' ? 5 + Buffer.byteLength(id) : 5 + id.byteLength;
  n += key === undefined ? 1 : 5 + Buffer.byteLength(key);
  if (headers !== undefined) {
    n += 5;
    for (const name in headers) n += 10 + Buffer.byteLength(name) + Buffer.byteLength(headers[name]!);
  }
  return n;
}

/** An upper bound of a batch's own bytes around its records. */
export function batchOverheadBound(contentType?: string): number {
  // map header, v, t (float64), ct, r or c+z with their headers.
  return 1 + 3 + 11 + (contentType === undefined ? 0 : 8 + Buffer.byteLength(contentType)) + 7 + 7 + 7;
}
