/**
 * Reply frames the node sends, built straight into one buffer each
 * (length prefix included), with the constant ones allocated once.
 */

export function frameOf(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const frame = Buffer.allocUnsafe(4 + length);
  frame.writeUInt32LE(length, 0);
  frame.write(text, 4, 'utf8');
  return frame;
}

export const OK_FRAME = frameOf('OK');
export const EMPTY_FRAME = frameOf('EMPTY');
export const ERR_INVALID_FRAME_LENGTH = frameOf('ERR invalid frame length');
export const ERR_INVALID_UTF8 = frameOf('ERR invalid utf-8');
export const ERR_UNKNOWN_COMMAND = frameOf('ERR unknown command');

export function errFrame(message: string): Buffer {
  return frameOf(`ERR ${message}`);
}

/** Longest topic name REGISTER accepts (stock has no limit; names this long are not real topics). */
export const MAX_NAME_LENGTH = 1_024;

/**
 * `ERR unknown topic <name>`, with the name as sent, like the stock node,
 * unless it is longer than any topic can be: then its start and its length.
 * Echoed whole, a name of up to 65,532 bytes made a reply frame over the
 * protocol's 65,536-byte limit, which a client must refuse (walrus-stream's
 * retires the connection with PROTOCOL_ERROR).
 */
export function unknownTopicFrame(topic: string): Buffer {
  if (topic.length <= MAX_NAME_LENGTH) return errFrame(`unknown topic ${topic}`);
  let start = topic.slice(0, 64);
  const last = start.charCodeAt(start.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) start = start.slice(0, -1); // not half a surrogate pair
  return errFrame(`unknown topic ${start}... (${topic.length} characters; no topic is longer than ${MAX_NAME_LENGTH})`);
}

/** `OK <payload>` for GET, copying the entry once. */
export function okPayloadFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(7 + payload.length);
  frame.writeUInt32LE(3 + payload.length, 0);
  frame[4] = 0x4f; // O
  frame[5] = 0x4b; // K
  frame[6] = 0x20;
  frame.set(payload, 7);
  return frame;
}

export function decimalDigits(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : String(n).length;
}

/**
 * `OK <count> <len> <entry> ...` for BATCH_GET, or with `leaseId`
 * `OK <lease_id> <count> <len> <entry> ...` for BATCH_LEASE; `entries` must
 * fit one frame (the caller budgets).
 */
export function batchGetFrame(entries: readonly Uint8Array[], leaseId?: number): Buffer {
  const head = leaseId === undefined ? `OK ${entries.length}` : `OK ${leaseId} ${entries.length}`;
  let size = head.length;
  for (const e of entries) size += 2 + decimalDigits(e.length) + e.length;
  const frame = Buffer.allocUnsafe(4 + size);
  frame.writeUInt32LE(size, 0);
  let at = 4 + frame.write(head, 4, 'latin1');
  for (const e of entries) {
    at += frame.write(` ${e.length} `, at, 'latin1');
    frame.set(e, at);
    at += e.length;
  }
  return frame;
}
