import { Packr } from 'msgpackr';
import { WalrusError } from '../errors/index.js';
import { compress, flagFor, type CompressionCodec } from './compression.js';
import { ENVELOPE_MAGIC, ENVELOPE_VERSION, entryBytes, type BatchWire, type RecordWire } from './envelope-format.js';
import { newRecordIdBytes, recordIdBytes } from './record-id.js';
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

// useRecords: false → plain MessagePack that any msgpack library can read.
const packr = new Packr({ useRecords: false, moreTypes: false });

/** The result of encoding: the entry and how the batch was stored. */
export interface EncodedEntry {
  entry: string;
  /** MessagePack bytes before compression. */
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
  const now = opts.now ?? Date.now;
  const base = records[0]!.timestamp ?? now();
  const wire = new Array<RecordWire>(records.length);
  for (let i = 0; i < records.length; i++) wire[i] = toWire(records[i]!, base, now);
  const batch: BatchWire = { v: ENVELOPE_VERSION, t: base };
  if (opts.contentType !== undefined) batch.ct = opts.contentType;
  const codec = opts.compression ?? 'none';
  const threshold = opts.compressionThreshold ?? DEFAULT_COMPRESSION_THRESHOLD;
  let rawBytes: number;
  let compressed = false;
  if (codec === 'none') {
    batch.r = wire;
    const packed = packr.pack(batch);
    return { entry: ENVELOPE_MAGIC + packed.toString('base64url'), rawBytes: packed.length, compressed };
  }
  const inner = packr.pack(wire);
  rawBytes = inner.length;
  if (inner.length >= threshold) {
    const z = compress(codec, inner);
    // Only flag compression when it pays: incompressible data stays as is.
    if (z.length < inner.length) {
      batch.c = flagFor(codec);
      batch.z = z;
      compressed = true;
    }
  }
  if (!compressed) batch.r = wire;
  const packed = packr.pack(batch);
  return { entry: ENVELOPE_MAGIC + packed.toString('base64url'), rawBytes, compressed };
}

function toWire(record: RecordToEncode, base: number, now: () => number): RecordWire {
  const id = record.id === undefined ? newRecordIdBytes() : typeof record.id === 'string' ? recordIdBytes(record.id) ?? record.id : record.id;
  const ts = record.timestamp ?? now();
  if (!Number.isSafeInteger(ts)) {
    throw new WalrusError('INVALID_ARGUMENT', `A record timestamp must be an integer number of milliseconds, got ${ts}.`);
  }
  if (record.headers !== undefined) {
    const flat: string[] = [];
    for (const name in record.headers) flat.push(name, record.headers[name]!);
    if (flat.length > 0) return [id, ts - base, record.value, record.key ?? null, flat];
  }
  if (record.key !== undefined) return [id, ts - base, record.value, record.key];
  return [id, ts - base, record.value];
}

/**
 * An upper bound of the MessagePack bytes one record takes in a batch
 * (fixed-size headers counted at their widest). Packing by this bound
 * guarantees an uncompressed batch fits without encoding twice.
 */
export function recordBound(record: RecordToEncode): number {
  let n = 1 + 9 + 5 + record.value.byteLength; // array header, dt, value header + bytes
  n += record.id === undefined || typeof record.id !== 'string' ? 18 : 5 + Buffer.byteLength(record.id);
  n += record.key === undefined ? 1 : 5 + Buffer.byteLength(record.key);
  if (record.headers !== undefined) {
    n += 5;
    for (const name in record.headers) n += 10 + Buffer.byteLength(name) + Buffer.byteLength(record.headers[name]!);
  }
  return n;
}

/** An upper bound of a batch's own bytes around its records. */
export function batchOverheadBound(contentType?: string): number {
  // map header, v, t (float64), ct, r or c+z with their headers.
  return 1 + 3 + 11 + (contentType === undefined ? 0 : 8 + Buffer.byteLength(contentType)) + 7 + 7 + 7;
}

/** Size of the envelope entry for a batch of `recordBytes` record bytes (upper bound). */
export function entryBound(recordBytes: number, contentType?: string): number {
  return entryBytes(recordBytes + batchOverheadBound(contentType));
}
