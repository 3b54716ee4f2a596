/**
 * The envelope: how walrus-stream stores records in Walrus entries.
 *
 * An entry is the ASCII magic `ws1:` followed by the unpadded base64url of
 * one MessagePack value (the batch). Every such entry is valid UTF-8, is
 * never empty and never ends in whitespace, so a stock node stores it byte
 * for byte (docs/architecture.md, "The Walrus protocol in brief": the server trims trailing whitespace). The full byte
 * layout is documented in docs/records.md; this file is its single source in
 * code.
 *
 * Batch (MessagePack map):
 *   v  : 1                        format version
 *   t  : int                      base timestamp, ms since the epoch
 *   ct?: str                      content type of every value (the serializer's)
 *   r  : [Record...]              the records, when not compressed
 *   c? : "gzip" | "br"            compression flag; then instead of `r`:
 *   z  : bin                      compressed MessagePack array of the records
 *
 * Record (MessagePack array, positional to save ~12 bytes per record):
 *   [0] id     : bin(16) | str    generated ids are 16 random bytes
 *   [1] dt     : int              timestamp − t (ms), usually 0
 *   [2] value  : bin              serialized value
 *   [3] key?   : str | nil
 *   [4] headers?: [name, value, name, value, ...]   all str
 *
 * Every record's timestamp (t + dt) is an integer within ±MAX_TIMESTAMP_MS,
 * and an entry holds at most MAX_ENTRY_RECORDS records: writers refuse or
 * split anything else, readers reject it (DESERIALIZATION_ERROR).
 *
 * Headers are a flat array rather than a map so that any name survives every
 * MessagePack decoder (msgpackr renames a `__proto__` map key, for one).
 */

/** Prefix of every envelope entry. The digit is the envelope version. */
export const ENVELOPE_MAGIC = 'ws1:';
export const ENVELOPE_MAGIC_BYTES = Buffer.from(ENVELOPE_MAGIC, 'latin1');
export const ENVELOPE_VERSION = 1;

/**
 * Largest distance from the epoch, in ms, of a record timestamp: the range
 * of a JavaScript Date (±100,000,000 days), so every timestamp is a valid
 * `new Date(ts)` and t + dt is exact in a double.
 */
export const MAX_TIMESTAMP_MS = 8.64e15;

/** True when `ts` is a record timestamp an envelope can carry: an integer number of ms within ±{@link MAX_TIMESTAMP_MS}. */
export function isEnvelopeTimestamp(ts: unknown): ts is number {
  return Number.isInteger(ts) && Math.abs(ts as number) <= MAX_TIMESTAMP_MS;
}

/**
 * Most records one entry may hold. A record takes at least 5 MessagePack
 * bytes, so an uncompressed entry (≤ 64 KiB) holds under 10,000; and records
 * with generated ids (16 random bytes, which do not compress) stay near 3,000
 * even compressed. The writers (BatchBuilder, encodeRecords) never put more
 * in an entry; a reader rejects an entry claiming more before it decodes a
 * record, so a tiny compressed entry cannot turn into millions of records.
 */
export const MAX_ENTRY_RECORDS = 10_000;

/** The MessagePack map of one batch, as written. */
export interface BatchWire {
  v: number;
  t: number;
  ct?: string;
  /** Records as `[id, dt, value, key?, headers?]` arrays. */
  r?: unknown[];
  c?: string;
  z?: Uint8Array;
}

/** Base64url characters needed for `bytes` bytes, without padding. */
export function base64urlLength(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}

/** Most MessagePack bytes whose envelope entry fits in `entryLimit` bytes. */
export function maxBatchBytes(entryLimit: number): number {
  return Math.floor(((entryLimit - ENVELOPE_MAGIC.length) * 3) / 4);
}

/** Size in bytes of the envelope entry carrying `batchBytes` MessagePack bytes. */
export function entryBytes(batchBytes: number): number {
  return ENVELOPE_MAGIC.length + base64urlLength(batchBytes);
}
