import { WalrusError } from '../errors/index.js';
import { encodeFrame } from './frame.js';
import { MAX_BATCH_ENTRIES, MAX_FRAME_BYTES } from './limits.js';
import { assertPayload, assertTopic } from './validate.js';

/**
 * Command encoders. Each validates everything the node would reject or
 * silently alter, and returns a complete frame (length prefix included), so
 * a socket never receives a frame that could desynchronise it.
 */

export function encodeRegister(topic: string): Buffer {
  assertTopic(topic);
  return encodeFrame(`REGISTER ${topic}`);
}

export function encodeGet(topic: string): Buffer {
  assertTopic(topic);
  return encodeFrame(`GET ${topic}`);
}

export function encodeState(topic: string): Buffer {
  assertTopic(topic);
  return encodeFrame(`STATE ${topic}`);
}

export function encodeMetrics(): Buffer {
  return encodeFrame('METRICS');
}

/** `PUT <topic> <payload>`; refuses payloads the node would trim or that exceed the frame limit. */
export function encodePut(topic: string, payload: string): Buffer {
  assertTopic(topic);
  assertPayload(payload, topic);
  const payloadBytes = Buffer.byteLength(payload);
  const size = 5 + topic.length + payloadBytes;
  if (size > MAX_FRAME_BYTES) throw tooLarge(topic, size);
  // Written in place: `PUT ${topic} ${payload}` would build a copy of the
  // payload (up to 64 KiB per sink entry) only to measure and copy it again.
  const frame = Buffer.allocUnsafe(4 + size);
  frame.writeUInt32LE(size, 0);
  const head = 4 + frame.write(`PUT ${topic} `, 4, 'latin1');
  frame.write(payload, head, 'utf8');
  return frame;
}

/**
 * `BATCH_PUT <topic> <count> <len> <entry> <len> <entry> ...` — the
 * extension from the seed review. `len` is the entry's UTF-8 byte length in
 * decimal; exactly that many bytes follow one space, then one space before
 * the next length. Entries obey the same rules as PUT payloads, so a batch
 * stores exactly what the same PUTs would. Reply: `OK <count>`.
 */
export function encodeBatchPut(topic: string, entries: readonly string[]): Buffer {
  assertTopic(topic);
  if (entries.length === 0 || entries.length > MAX_BATCH_ENTRIES) {
    throw new WalrusError('INVALID_ARGUMENT', `BATCH_PUT needs 1 to ${MAX_BATCH_ENTRIES} entries, got ${entries.length}.`, { context: { topic } });
  }
  let size = `BATCH_PUT ${topic} ${entries.length}`.length;
  const lengths = new Array<number>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    assertPayload(entry, topic);
    const len = Buffer.byteLength(entry);
    lengths[i] = len;
    size += 2 + decimalDigits(len) + len;
  }
  if (size > MAX_FRAME_BYTES) throw tooLarge(topic, size);
  const frame = Buffer.allocUnsafe(4 + size);
  frame.writeUInt32LE(size, 0);
  let at = 4 + frame.write(`BATCH_PUT ${topic} ${entries.length}`, 4, 'latin1');
  for (let i = 0; i < entries.length; i++) {
    at += frame.write(` ${lengths[i]} `, at, 'latin1');
    at += frame.write(entries[i]!, at, 'utf8');
  }
  return frame;
}

/** Bytes a BATCH_PUT entry of `entryBytes` adds to the frame. */
export function batchPutEntryOverhead(entryBytes: number): number {
  return 2 + decimalDigits(entryBytes) + entryBytes;
}

/** Bytes of the `BATCH_PUT <topic> <count>` head. */
export function batchPutHeadBytes(topic: string, count: number): number {
  return 11 + topic.length + decimalDigits(count);
}

/**
 * `BATCH_GET <topic> <max_entries> <max_bytes>` — reads up to `maxEntries`
 * entries whose payload bytes add up to at most `maxBytes` (at least one
 * entry is returned if any exists). Reply: `EMPTY`, or
 * `OK <count> <len> <entry> <len> <entry> ...` in BATCH_PUT's layout; the
 * node keeps the whole reply within one frame.
 */
export function encodeBatchGet(topic: string, maxEntries: number, maxBytes: number = MAX_FRAME_BYTES): Buffer {
  assertTopic(topic);
  if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_BATCH_ENTRIES) {
    throw new WalrusError('INVALID_ARGUMENT', `BATCH_GET max_entries must be an integer from 1 to ${MAX_BATCH_ENTRIES}, got ${maxEntries}.`, { context: { topic } });
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw new WalrusError('INVALID_ARGUMENT', `BATCH_GET max_bytes must be a positive integer, got ${maxBytes}.`, { context: { topic } });
  }
  return encodeFrame(`BATCH_GET ${topic} ${maxEntries} ${maxBytes}`);
}

/**
 * `BATCH_LEASE <topic> <max_entries> <max_bytes>` — the embedded node's
 * lease extension: like BATCH_GET, but the entries are only hidden from
 * other readers, not consumed, until `ACK <topic> <lease_id>` on the same
 * connection. Reply: `EMPTY`, or `OK <lease_id> <count> <len> <entry> ...`.
 */
export function encodeBatchLease(topic: string, maxEntries: number, maxBytes: number = MAX_FRAME_BYTES): Buffer {
  assertTopic(topic);
  if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_BATCH_ENTRIES) {
    throw new WalrusError('INVALID_ARGUMENT', `BATCH_LEASE max_entries must be an integer from 1 to ${MAX_BATCH_ENTRIES}, got ${maxEntries}.`, { context: { topic } });
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw new WalrusError('INVALID_ARGUMENT', `BATCH_LEASE max_bytes must be a positive integer, got ${maxBytes}.`, { context: { topic } });
  }
  return encodeFrame(`BATCH_LEASE ${topic} ${maxEntries} ${Math.min(maxBytes, 999_999_999)}`);
}

/** `ACK <topic> <lease_id>` — consumes a lease's entries. Reply: `OK`, or `ERR unknown lease <id>` (LEASE_NOT_FOUND). */
export function encodeAck(topic: string, leaseId: number): Buffer {
  assertTopic(topic);
  if (!Number.isSafeInteger(leaseId) || leaseId < 1) {
    throw new WalrusError('INVALID_ARGUMENT', `ACK needs a lease id from a BATCH_LEASE reply (a positive integer), got ${String(leaseId)}.`, { context: { topic } });
  }
  return encodeFrame(`ACK ${topic} ${leaseId}`);
}

/** `RELEASE <topic>`: the embedded node releases every open lease on the topic for redelivery (docs/broker.md, "Leases"). */
export function encodeRelease(topic: string): Buffer {
  assertTopic(topic);
  return encodeFrame(`RELEASE ${topic}`);
}

function decimalDigits(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : String(n).length;
}

function tooLarge(topic: string, size: number): WalrusError {
  return new WalrusError(
    'FRAME_TOO_LARGE',
    `Request for topic ${topic} would be a ${size}-byte frame, over the protocol limit of ${MAX_FRAME_BYTES} bytes; nothing was sent. Send smaller records, split the batch, or enable compression.`,
    { context: { topic, size, limit: MAX_FRAME_BYTES } },
  );
}
