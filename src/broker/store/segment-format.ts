import { crc32 } from './crc32.js';

/**
 * On-disk format of one segment file:
 *
 *   header  16 bytes  "WALRSEG" 0x01, then u64 LE segment number
 *   entry   [u32 LE payload length][u32 LE crc32(payload)][payload]  (repeated)
 *
 * Entries are only ever appended. A crash can leave a torn tail (a partial
 * header or payload, or a payload whose checksum does not match because
 * the OS wrote pages out of order), and a disk can damage bytes anywhere;
 * recovery (segment-scan.ts) keeps every entry whose checksum holds.
 */
export const SEGMENT_MAGIC = Buffer.from('WALRSEG\x01', 'latin1');
export const SEGMENT_HEADER_BYTES = 16;
export const ENTRY_HEADER_BYTES = 8;
/** Largest payload a valid entry can have (a whole frame); anything larger is corruption. */
export const MAX_ENTRY_BYTES = 65_536;

export function segmentHeader(segment: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(header, 0);
  header.writeBigUInt64LE(BigInt(segment), 8);
  return header;
}

/** Writes entry header and payload into `target` at `at`; returns the bytes written. */
export function encodeEntryInto(target: Buffer, at: number, payload: Uint8Array): number {
  target.writeUInt32LE(payload.length, at);
  target.writeUInt32LE(crc32(payload), at + 4);
  target.set(payload, at + ENTRY_HEADER_BYTES);
  return ENTRY_HEADER_BYTES + payload.length;
}
