/**
 * The id of output `index` of `processor` for input record `parentId`:
 * deterministic (a replay after a crash produces the same ids, so downstream
 * consumers can deduplicate) and in the codec's compact 16-byte form (22
 * base64url characters).
 *
 * Four FNV-1a lanes with different offsets give 128 bits: this runs once per
 * output at full speed (in workers for sinks, on the coordinator's thread for
 * chained processors), where a SHA-256 per record showed up in profiles, and
 * ids need uniqueness, not secrecy. The lanes after the processor's name are
 * computed once per processor; then the parent id's characters and the
 * index's four bytes are mixed in, with no string built per call.
 */
export function deriveRecordId(parentId: string, processor: string, index: number): string {
  return recordIdText(deriveRecordIdBytes(parentId, processor, index, scratch));
}

/** Reused by deriveRecordId: only the text leaves it. */
const scratch = new Uint8Array(16);
const BASE64URL = Uint8Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', (c) => c.charCodeAt(0));

/**
 * The 22-character text of a 16-byte id: base64url without padding, as
 * `Buffer#toString('base64url')` writes it. Built here in one string from
 * five 3-byte groups and the last byte: a record in a chain of fused
 * processors gets a derived id per step, and the Buffer round trip (a
 * Buffer object, a call into C++) was ~10% of a worker's time on case (e)
 * of bench:pipeline; this is ~4× faster (35 against 130 ns).
 */
export function recordIdText(b: Uint8Array): string {
  if (b.length !== 16) return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');
  const B = BASE64URL;
  const n0 = (b[0]! << 16) | (b[1]! << 8) | b[2]!, n1 = (b[3]! << 16) | (b[4]! << 8) | b[5]!, n2 = (b[6]! << 16) | (b[7]! << 8) | b[8]!;
  const n3 = (b[9]! << 16) | (b[10]! << 8) | b[11]!, n4 = (b[12]! << 16) | (b[13]! << 8) | b[14]!, last = b[15]!;
  return String.fromCharCode(
    B[n0 >>> 18]!, B[(n0 >>> 12) & 63]!, B[(n0 >>> 6) & 63]!, B[n0 & 63]!, B[n1 >>> 18]!, B[(n1 >>> 12) & 63]!, B[(n1 >>> 6) & 63]!, B[n1 & 63]!,
    B[n2 >>> 18]!, B[(n2 >>> 12) & 63]!, B[(n2 >>> 6) & 63]!, B[n2 & 63]!, B[n3 >>> 18]!, B[(n3 >>> 12) & 63]!, B[(n3 >>> 6) & 63]!, B[n3 & 63]!,
    B[n4 >>> 18]!, B[(n4 >>> 12) & 63]!, B[(n4 >>> 6) & 63]!, B[n4 & 63]!, B[last >>> 2]!, B[(last & 3) << 4]!);
}

/** Lanes after hashing `processor` and a NUL, per processor name. */
const prefixes = new Map<string, Int32Array>();

function prefixLanes(processor: string): Int32Array {
  let lanes = prefixes.get(processor);
  if (lanes === undefined) {
    lanes = new Int32Array([0x811c9dc5, 0x01000193 ^ 0x9e3779b9, 0x85ebca6b, 0xc2b2ae35]);
    const text = `${processor}\u0000`;
    for (let i = 0; i < text.length; i++) mix(lanes, text.charCodeAt(i));
    if (prefixes.size > 10_000) prefixes.clear();
    prefixes.set(processor, lanes);
  }
  return lanes;
}

function mix(lanes: Int32Array, ch: number): void {
  lanes[0] = Math.imul(lanes[0]! ^ ch, 0x01000193);
  lanes[1] = Math.imul(lanes[1]! ^ ch, 0x01000193) ^ (lanes[0]! >>> 15);
  lanes[2] = Math.imul(lanes[2]! ^ ch, 0x01000193) ^ (lanes[1]! >>> 13);
  lanes[3] = Math.imul(lanes[3]! ^ ch, 0x01000193) ^ (lanes[2]! >>> 16);
}

/** {@link deriveRecordId} as its 16 bytes (what the envelope stores; no base64 round trip). */
export function deriveRecordIdBytes(parentId: string, processor: string, index: number, into?: Uint8Array): Uint8Array {
  const start = prefixLanes(processor);
  let a = start[0]!, b = start[1]!, c = start[2]!, d = start[3]!;
  // The parent id's characters, then a NUL and the index's four bytes.
  const n = parentId.length;
  for (let i = 0; i <= n + 4; i++) {
    const ch = i < n ? parentId.charCodeAt(i) : i === n ? 0 : (index >>> ((i - n - 1) * 8)) & 0xff;
    a = Math.imul(a ^ ch, 0x01000193);
    b = Math.imul(b ^ ch, 0x01000193) ^ (a >>> 15);
    c = Math.imul(c ^ ch, 0x01000193) ^ (b >>> 13);
    d = Math.imul(d ^ ch, 0x01000193) ^ (c >>> 16);
  }
  const out = into ?? new Uint8Array(16);
  out[0] = a; out[1] = a >>> 8; out[2] = a >>> 16; out[3] = a >>> 24;
  out[4] = b; out[5] = b >>> 8; out[6] = b >>> 16; out[7] = b >>> 24;
  out[8] = c; out[9] = c >>> 8; out[10] = c >>> 16; out[11] = c >>> 24;
  out[12] = d; out[13] = d >>> 8; out[14] = d >>> 16; out[15] = d >>> 24;
  return out;
}
