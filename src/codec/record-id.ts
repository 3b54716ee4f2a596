import { randomFillSync } from 'node:crypto';

/** Bytes in a record id: 128 random bits. */
export const RECORD_ID_BYTES = 16;

/**
 * Random bytes are drawn in blocks because `randomFillSync` costs a system
 * call: one call per 256 ids keeps id generation far below a microsecond on
 * the producer's hot path while every id stays 128 bits of CSPRNG output.
 */
const BLOCK_IDS = 256;
let block = Buffer.alloc(0);
let offset = 0;

/**
 * A new record id as 16 random bytes (a view into a block that is never
 * reused, so it may be kept).
 */
export function newRecordIdBytes(): Uint8Array {
  if (offset >= block.length) {
    block = randomFillSync(Buffer.allocUnsafe(BLOCK_IDS * RECORD_ID_BYTES));
    offset = 0;
  }
  const id = block.subarray(offset, offset + RECORD_ID_BYTES);
  offset += RECORD_ID_BYTES;
  return id;
}

/**
 * Writes a new random record id straight into `target` at `pos` (the
 * encoder's path: no intermediate view is allocated per record).
 */
export function writeNewRecordId(target: Buffer, pos: number): void {
  if (offset >= block.length) {
    block = randomFillSync(Buffer.allocUnsafe(BLOCK_IDS * RECORD_ID_BYTES));
    offset = 0;
  }
  for (let i = 0; i < RECORD_ID_BYTES; i++) target[pos + i] = block[offset + i]!;
  offset += RECORD_ID_BYTES;
}

/** The printable form of a record id: base64url of its 16 bytes, 22 characters. */
export function recordIdToString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** A new record id in its printable form. */
export function newRecordId(): string {
  return recordIdToString(newRecordIdBytes());
}

/**
 * Turns a printable id back into its 16 bytes when it is one of ours (22
 * base64url characters), so it is stored compactly; any other string id is
 * kept as a string.
 */
export function recordIdBytes(id: string): Uint8Array | undefined {
  if (id.length !== 22 || !/^[A-Za-z0-9_-]{22}$/.test(id)) return undefined;
  const bytes = Buffer.from(id, 'base64url');
  // Only canonical encodings round-trip: the last character carries 2 spare bits.
  return bytes.length === RECORD_ID_BYTES && bytes.toString('base64url') === id ? bytes : undefined;
}
