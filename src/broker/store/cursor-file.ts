import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from './crc32.js';

/**
 * A topic's shared read cursor on disk: 16 bytes rewritten in place,
 * `[u64 LE entries consumed][u32 LE crc32 of those 8 bytes][4 zero bytes]`.
 * A 16-byte write at offset 0 never straddles a sector, so it is atomic on
 * every disk we care about; the checksum catches anything else, and a bad
 * cursor falls back to 0 (re-delivery, never loss).
 */
export const CURSOR_BYTES = 16;

export class CursorFile {
  readonly #fd: number;
  readonly #buffer = Buffer.alloc(CURSOR_BYTES);

  constructor(path: string) {
    this.#fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  }

  get fd(): number {
    return this.#fd;
  }

  /** The stored position, or 0 when the file is new or damaged. */
  read(): number {
    const buffer = Buffer.alloc(CURSOR_BYTES);
    const got = readSync(this.#fd, buffer, 0, CURSOR_BYTES, 0);
    if (got < 12) return 0;
    const value = buffer.subarray(0, 8);
    if (crc32(value) !== buffer.readUInt32LE(8)) return 0;
    return Number(buffer.readBigUInt64LE(0));
  }

  write(position: number): void {
    const b = this.#buffer;
    b.writeBigUInt64LE(BigInt(position), 0);
    b.writeUInt32LE(crc32(b.subarray(0, 8)), 8);
    writeSync(this.#fd, b, 0, CURSOR_BYTES, 0);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
