import * as crypto from 'node:crypto';
import { Packr } from 'msgpackr';
import { WalrusError } from '../errors/index.js';
import { decompress } from './compression.js';
import { setHeader } from './headers.js';
import { ENVELOPE_MAGIC_BYTES, ENVELOPE_VERSION, MAX_ENTRY_RECORDS, MAX_TIMESTAMP_MS, isEnvelopeTimestamp, type BatchWire } from './envelope-format.js';
import { recordIdToString } from './record-id.js';
import type { DecodedRecord } from './record-types.js';

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/** Options of {@link decodeEntry}. */
export interface DecodeOptions {
  /** Topic, for error context. */
  topic?: string;
  /** Clock seam: the timestamp given to plain text records. @default Date.now */
  now?: () => number;
  /**
   * Records of one entry that carry no headers of their own share one
   * headers object (holding only the batch's content type) instead of one
   * each. Only for callers that never mutate `headers` (the pipeline's
   * coordinator copies before it changes them). @default false
   */
  shareHeaders?: boolean;
}

/** True when `entry` starts with the envelope magic `ws1:`. */
export function isEnvelope(entry: Uint8Array): boolean {
  if (entry.length < ENVELOPE_MAGIC_BYTES.length) return false;
  for (let i = 0; i < ENVELOPE_MAGIC_BYTES.length; i++) if (entry[i] !== ENVELOPE_MAGIC_BYTES[i]) return false;
  return true;
}

/**
 * Decodes one Walrus entry into its records (values still bytes).
 *
 * Entries without the `ws1:` magic were written by another client and become
 * one `text` record: its value is the entry's bytes, its id `t` + base64url
 * of the first 16 bytes of the entry's SHA-256 (stable across re-reads, so
 * identical lines share an id), its timestamp the read time.
 *
 * An entry with the magic that does not decode throws DESERIALIZATION_ERROR
 * with the raw entry in `context.raw`.
 */
export function decodeEntry(entry: Buffer | string, opts: DecodeOptions = {}): DecodedRecord[] {
  const raw = typeof entry === 'string' ? Buffer.from(entry, 'utf8') : entry;
  if (!isEnvelope(raw)) {
    return [{ id: plainTextId(raw), timestamp: (opts.now ?? Date.now)(), headers: {}, value: raw, format: 'text' }];
  }
  try {
    return decodeEnvelope(raw, opts.shareHeaders === true);
  } catch (cause) {
    if (cause instanceof WalrusError && cause.code === 'DESERIALIZATION_ERROR') {
      Object.assign(cause.context, opts.topic ? { topic: opts.topic } : {});
      throw cause;
    }
    throw corrupt(raw, `${(cause as Error)?.message ?? String(cause)}`, opts.topic, cause);
  }
}

/** One-shot SHA-256 (`crypto.hash`, Node ≥ 20.12): a third cheaper than a Hash object per entry; older Node falls back. */
const sha256: (data: Buffer) => Buffer = typeof (crypto as { hash?: unknown }).hash === 'function'
  ? (data) => (crypto as unknown as { hash(algorithm: string, data: Buffer, encoding: 'buffer'): Buffer }).hash('sha256', data, 'buffer')
  : (data) => crypto.createHash('sha256').update(data).digest();

function plainTextId(raw: Buffer): string {
  return `t${sha256(raw).subarray(0, 16).toString('base64url')}`;
}

function decodeEnvelope(raw: Buffer, shareHeaders: boolean): DecodedRecord[] {
  const text = raw.toString('latin1', ENVELOPE_MAGIC_BYTES.length);
  // Buffer's base64 decoder skips characters outside the alphabet instead of
  // failing; a length check catches them (and a truncated entry) cheaply.
  const bytes = Buffer.from(text, 'base64url');
  if (text.length % 4 === 1 || bytes.length !== Math.floor((text.length * 3) / 4)) {
    throw corrupt(raw, 'the text after "ws1:" is not unpadded base64url');
  }
  const batch = packr.unpack(bytes) as BatchWire;
  if (typeof batch !== 'object' || batch === null) throw corrupt(raw, 'the batch is not a map');
  if (batch.v !== ENVELOPE_VERSION) {
    throw corrupt(raw, `envelope version ${String(batch.v)} is not supported (this walrus-stream reads version ${ENVELOPE_VERSION}; upgrade it)`);
  }
  if (!Number.isSafeInteger(batch.t)) throw corrupt(raw, 'the batch timestamp is missing');
  let wire: unknown = batch.r;
  if (batch.c !== undefined) {
    if (!(batch.z instanceof Uint8Array)) throw corrupt(raw, 'a compressed batch has no bytes');
    const records = decompress(batch.c, batch.z);
    // The record count is in the array's first bytes: too many is refused before a record is decoded.
    checkCount(raw, arrayLength(records));
    wire = packr.unpack(records);
  }
  if (!Array.isArray(wire) || wire.length === 0) throw corrupt(raw, 'the batch holds no records');
  checkCount(raw, wire.length);
  const contentType = typeof batch.ct === 'string' ? batch.ct : undefined;
  const out = new Array<DecodedRecord>(wire.length);
  const shared = shareHeaders ? headersOf(undefined, contentType, raw, 0) : undefined;
  for (let i = 0; i < wire.length; i++) {
    const r = wire[i] as unknown[];
    if (!Array.isArray(r) || r.length < 3 || r.length > 5) throw corrupt(raw, `record ${i} is not [id, dt, value, key?, headers?]`);
    const [id, dt, value, key, headers] = r;
    if (!(value instanceof Uint8Array) || typeof dt !== 'number' || !(typeof id === 'string' || id instanceof Uint8Array)) {
      throw corrupt(raw, `record ${i} has fields of the wrong type`);
    }
    const timestamp = batch.t + dt;
    if (!Number.isInteger(dt) || !isEnvelopeTimestamp(timestamp)) {
      throw corrupt(raw, `record ${i} has timestamp t + dt = ${batch.t} + ${dt}, not an integer number of milliseconds within ±${MAX_TIMESTAMP_MS} (the range of a JavaScript Date)`);
    }
    const record: DecodedRecord = {
      id: typeof id === 'string' ? id : recordIdToString(id),
      timestamp,
      headers: shared !== undefined && headers === undefined ? shared : headersOf(headers, contentType, raw, i),
      value,
      format: 'envelope',
    };
    if (typeof key === 'string') record.key = key;
    else if (key !== undefined && key !== null) throw corrupt(raw, `record ${i} has a key that is not a string`);
    out[i] = record;
  }
  return out;
}

/** The length in a MessagePack array header at the start of `bytes` (0 when it is no array: then nothing decodes anyway). */
function arrayLength(bytes: Buffer): number {
  const head = bytes[0];
  if (head !== undefined && head >= 0x90 && head <= 0x9f) return head & 0x0f;
  if (head === 0xdc && bytes.length >= 3) return bytes.readUInt16BE(1);
  if (head === 0xdd && bytes.length >= 5) return bytes.readUInt32BE(1);
  return 0;
}

function checkCount(raw: Buffer, records: number): void {
  if (records <= MAX_ENTRY_RECORDS) return;
  const error = corrupt(raw, `the batch holds ${records} records, more than the ${MAX_ENTRY_RECORDS} one entry may hold ` +
    `(walrus-stream's writers never put more in one entry); have its producer split them into entries of at most ${MAX_ENTRY_RECORDS} records`);
  Object.assign(error.context, { records, limit: MAX_ENTRY_RECORDS });
  throw error;
}

function headersOf(headers: unknown, contentType: string | undefined, raw: Buffer, i: number): Record<string, string> {
  const out: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType };
  if (headers === undefined) return out;
  if (!Array.isArray(headers) || headers.length % 2 !== 0) throw corrupt(raw, `record ${i} has headers that are not a [name, value, ...] list`);
  for (let h = 0; h < headers.length; h += 2) {
    const name: unknown = headers[h];
    const value: unknown = headers[h + 1];
    if (typeof name !== 'string' || typeof value !== 'string') throw corrupt(raw, `record ${i} header ${h / 2} is not a pair of strings`);
    setHeader(out, name, value);
  }
  return out;
}

function corrupt(raw: Buffer, problem: string, topic?: string, cause?: unknown): WalrusError {
  return new WalrusError('DESERIALIZATION_ERROR', `A Walrus entry starts with the envelope magic "ws1:" but cannot be decoded: ${problem}.`, {
    cause,
    context: { raw, ...(topic ? { topic } : {}) },
  });
}
