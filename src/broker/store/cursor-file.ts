import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from './crc32.js';
import type { CursorPosition, StoredCursor } from './cursor-position.js';

/**
 * A topic's shared read cursor on disk, rewritten in place at offset 0:
 *
 *   24 bytes  "WCP2", u64 LE segment number, u64 LE file offset, u32 LE crc32 of the first 20 bytes
 *
 * A write this small at offset 0 never straddles a sector, so it is atomic
 * on every disk we care about; the checksum catches anything else, and a
 * bad cursor falls back to the start (re-delivery, never loss).
 *
 * Files written before positions existed hold 16 bytes,
 * `[u64 LE entries consumed][u32 LE crc32 of those 8 bytes][4 zero bytes]`;
 * they are still read (as a count) and replaced by a position on the next write.
 */
export const CURSOR_BYTES = 24;
const MAGIC = Buffer.from('WCP2', 'latin1');

export class CursorFile {
  readonly #fd: number;
  readonly #buffer = Buffer.alloc(CURSOR_BYTES);

  constructor(path: string) {
    this.#fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  }

  get fd(): number {
    return this.#fd;
  }

  /** The stored cursor, or undefined when the file is new or damaged. */
  read(): StoredCursor | undefined {
    const buffer = Buffer.alloc(CURSOR_BYTES);
    const got = readSync(this.#fd, buffer, 0, CURSOR_BYTES, 0);
    if (got >= CURSOR_BYTES && buffer.subarray(0, 4).equals(MAGIC) && crc32(buffer.subarray(0, 20)) === buffer.readUInt32LE(20)) {
      return { segment: Number(buffer.readBigUInt64LE(4)), offset: Number(buffer.readBigUInt64LE(12)) };
    }
    if (got >= 12 && crc32(buffer.subarray(0, 8)) === buffer.readUInt32LE(8)) {
      return { count: Number(buffer.readBigUInt64LE(0)) };
    }
    return undefined;
  }

  write(position: CursorPosition): void {
    const b = this.#buffer;
    MAGIC.copy(b, 0);
    b.writeBigUInt64LE(BigInt(position.segment), 4);
    b.writeBigUInt64LE(BigInt(position.offset), 12);
    b.writeUInt32LE(crc32(b.subarray(0, 20)), 20);
    writeSync(this.#fd, b, 0, CURSOR_BYTES, 0);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
