/**
 * The id of output `index` of `processor` for input record `parentId`:
 * deterministic (a replay after a crash produces the same ids, so downstream
 * consumers can deduplicate) and in the codec's compact 16-byte form (22
 * base64url characters).
 *
 * Four FNV-1a lanes with different offsets give 128 bits: this runs once per
 * output on the coordinator's thread, where a SHA-256 per record showed up in
 * profiles, and ids need uniqueness, not secrecy.
 */
export function deriveRecordId(parentId: string, processor: string, index: number): string {
  return Buffer.from(deriveRecordIdBytes(parentId, processor, index)).toString('base64url');
}

/** {@link deriveRecordId} as its 16 bytes (what the envelope stores; no base64 round trip). */
export function deriveRecordIdBytes(parentId: string, processor: string, index: number): Uint8Array {
  const text = `${parentId}\u0000${processor}\u0000${index}`;
  let a = 0x811c9dc5, b = 0x01000193 ^ 0x9e3779b9, c = 0x85ebca6b, d = 0xc2b2ae35;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    a = Math.imul(a ^ ch, 0x01000193);
    b = Math.imul(b ^ ch, 0x01000193) ^ (a >>> 15);
    c = Math.imul(c ^ ch, 0x01000193) ^ (b >>> 13);
    d = Math.imul(d ^ ch, 0x01000193) ^ (c >>> 16);
  }
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setInt32(0, a | 0, true);
  view.setInt32(4, b | 0, true);
  view.setInt32(8, c | 0, true);
  view.setInt32(12, d | 0, true);
  return out;
}
