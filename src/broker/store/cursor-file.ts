import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from './crc32.js';
import type { CursorPosition, StoredCursor } from './cursor-position.js';

/**
 * A topic's shared read cursor on disk, rewritten in place at offset 0:
 *
 *   32 bytes  "WCP3", u64 LE segment number, u64 LE file offset,
 *             u64 LE entries in the segments before it (deleted ones included),
 *             u32 LE crc32 of the first 28 bytes
 *
 * A write this small at offset 0 never straddles a sector, so it is atomic
 * on every disk we care about; the checksum catches anything else, and a
 * bad cursor falls back to the start (re-delivery, never loss). The
 * position and the count of entries before its segment change in the same
 * write, so retention (deleting the segments before the cursor) never
 * leaves the two disagreeing.
 *
 * Older files are still read and replaced by WCP3 on the next write: WCP2
 * (24 bytes, the same without the count, written before retention) and,
 * from before positions, 16 bytes
 * `[u64 LE entries consumed][u32 LE crc32 of those 8 bytes][4 zero bytes]` (a count).
 */
export const CURSOR_BYTES = 32;
const MAGIC = Buffer.from('WCP3', 'latin1');
const MAGIC_V2 = Buffer.from('WCP2', 'latin1');

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
    const magic = buffer.subarray(0, 4);
    if (got >= CURSOR_BYTES && magic.equals(MAGIC) && crc32(buffer.subarray(0, 28)) === buffer.readUInt32LE(28)) {
      return { segment: Number(buffer.readBigUInt64LE(4)), offset: Number(buffer.readBigUInt64LE(12)), entriesBefore: Number(buffer.readBigUInt64LE(20)) };
    }
    if (got >= 24 && magic.equals(MAGIC_V2) && crc32(buffer.subarray(0, 20)) === buffer.readUInt32LE(20)) {
      return { segment: Number(buffer.readBigUInt64LE(4)), offset: Number(buffer.readBigUInt64LE(12)) };
    }
    if (got >= 12 && crc32(buffer.subarray(0, 8)) === buffer.readUInt32LE(8)) {
      return { count: Number(buffer.readBigUInt64LE(0)) };
    }
    return undefined;
  }

  write(position: Required<CursorPosition>): void {
    const b = this.#buffer;
    MAGIC.copy(b, 0);
    b.writeBigUInt64LE(BigInt(position.segment), 4);
    b.writeBigUInt64LE(BigInt(position.offset), 12);
    b.writeBigUInt64LE(BigInt(position.entriesBefore), 20);
    b.writeUInt32LE(crc32(b.subarray(0, 28)), 28);
    writeSync(this.#fd, b, 0, CURSOR_BYTES, 0);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
