import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { WalrusError } from '../../errors/index.js';
import { diskFullAdvice } from '../../util/disk-full.js';

/**
 * Frames on disk: `[u32 LE body length][u32 LE crc32(body)][body]`.
 *
 * Why a checksum per frame: a crash can leave a half-written last frame (a
 * torn tail) or garbage where the filesystem had not yet written data. On
 * recovery we keep every frame up to the first one whose length or checksum
 * does not hold, and truncate the rest: those bytes were never acknowledged
 * (a commit resolves only after the frame is fully written and fsynced) —
 * unless a whole frame verifies somewhere after the bad one: that is
 * corruption of acknowledged commits, and the open is refused (`corruptAt`).
 */
export const FRAME_OVERHEAD = 8;
/** A sanity bound so a corrupted length never makes us allocate gigabytes. */
export const MAX_LOG_FRAME_BYTES = 256 * 1024 * 1024;

export function encodeLogFrame(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_OVERHEAD + body.length);
  frame.writeUInt32LE(body.length, 0);
  frame.writeUInt32LE(crc32(body), 4);
  frame.set(body, FRAME_OVERHEAD);
  return frame;
}

export interface ScanResult {
  frames: Buffer[];
  /** Bytes of valid frames; anything after this offset is a torn or corrupt tail. */
  validBytes: number;
  /** Bytes after `validBytes` that were ignored. */
  tornBytes: number;
  /**
   * Set when the first bad frame is not a tail: a whole frame whose checksum
   * holds starts somewhere after it (whether the bad frame's checksum or its
   * length was hit). That is corruption of acknowledged commits, not a torn
   * write, and truncating would drop them silently.
   */
  corruptAt?: number;
  /** With `corruptAt`: where the next verifying frame starts, or `undefined` when the search for one gave up (SEARCH_BUDGET_BYTES) — the bytes after the bad frame are not what a torn write leaves either. */
  resumesAt?: number;
}

/**
 * Most bytes checksummed while looking for a frame after a bad one. A torn
 * tail is one partly written frame, perhaps followed by zeros: only offsets
 * whose length fits the file are checked, and there are few. Crafted bytes
 * could make every offset fit; past this much work the tail is treated as
 * corrupt (the open is refused) instead of spending minutes on it.
 */
export const SEARCH_BUDGET_BYTES = 256 * 1024 * 1024;

/** A log whose bad frame is followed by acknowledged commits (`scanFrames`' `corruptAt`): refused, by the store and by inspection alike. */
export function corruptLogError(path: string, corruptAt: number, resumesAt: number | undefined): WalrusError {
  const found = resumesAt === undefined
    ? `the bytes after it are not what a torn write leaves (the search for a commit after it gave up after ${SEARCH_BUDGET_BYTES / 2 ** 20} MiB)`
    : `a commit at offset ${resumesAt} verifies, so commits after it were acknowledged`;
  return new WalrusError('STATE_STORE_ERROR',
    `state log ${path} is corrupt: the commit at offset ${corruptAt} fails its checksum or length and ${found}; ` +
    'cutting the log there would lose state without a word. The store cannot be rebuilt from this file: move its directory aside (keep it for inspection) ' +
    'and start again; the store is then restored from its changelog topic (docs/state.md, "Changelog topic and restore")', {
      retriable: false, context: { path, offset: corruptAt, resumesAt },
    });
}

/** Splits a file's bytes into frames, stopping at the first torn or corrupt one. */
export function scanFrames(data: Buffer): ScanResult {
  const frames: Buffer[] = [];
  let offset = 0;
  while (offset + FRAME_OVERHEAD <= data.length) {
    const length = data.readUInt32LE(offset);
    // Length 0 is never written (a body is at least one msgpack byte), yet eight zero bytes would verify
    // (crc32 of nothing is 0): a zero-filled tail, as a power cut leaves on some filesystems, is torn, not frames.
    if (length === 0 || length > MAX_LOG_FRAME_BYTES || offset + FRAME_OVERHEAD + length > data.length) break;
    const body = data.subarray(offset + FRAME_OVERHEAD, offset + FRAME_OVERHEAD + length);
    if (crc32(body) !== data.readUInt32LE(offset + 4)) {
      // The common corruption: a flipped bit in the body, the frame after it intact.
      if (verifiesAt(data, offset + FRAME_OVERHEAD + length)) {
        return { frames, validBytes: offset, tornBytes: data.length - offset, corruptAt: offset, resumesAt: offset + FRAME_OVERHEAD + length };
      }
      break;
    }
    frames.push(body);
    offset += FRAME_OVERHEAD + length;
  }
  if (offset < data.length) {
    // Is the rest a torn tail? Not if a whole frame verifies anywhere in it: then the bad frame's
    // length may be what was hit, and cutting here would drop acknowledged commits after it.
    const next = nextVerifying(data, offset + 1);
    if (next !== -1) return { frames, validBytes: offset, tornBytes: data.length - offset, corruptAt: offset, resumesAt: next ?? undefined };
  }
  return { frames, validBytes: offset, tornBytes: data.length - offset };
}

/** The first offset from `from` where a whole, non-empty frame verifies; -1 for none; null when the search gave up (SEARCH_BUDGET_BYTES). */
function nextVerifying(data: Buffer, from: number): number | null {
  let hashed = 0;
  for (let q = from; q + FRAME_OVERHEAD <= data.length; q++) {
    const length = data.readUInt32LE(q);
    if (length === 0 || length > MAX_LOG_FRAME_BYTES || q + FRAME_OVERHEAD + length > data.length) continue;
    hashed += length;
    if (hashed > SEARCH_BUDGET_BYTES) return null;
    if (crc32(data.subarray(q + FRAME_OVERHEAD, q + FRAME_OVERHEAD + length)) === data.readUInt32LE(q + 4)) return q;
  }
  return -1;
}

/** True when a whole frame whose checksum holds starts at `offset`. */
function verifiesAt(data: Buffer, offset: number): boolean {
  if (offset + FRAME_OVERHEAD > data.length) return false;
  const length = data.readUInt32LE(offset);
  if (length === 0 || length > MAX_LOG_FRAME_BYTES || offset + FRAME_OVERHEAD + length > data.length) return false;
  return crc32(data.subarray(offset + FRAME_OVERHEAD, offset + FRAME_OVERHEAD + length)) === data.readUInt32LE(offset + 4);
}

/**
 * An append-only file of checksummed frames, written with group commit:
 * appends that arrive while a write+fsync is in progress are coalesced into
 * the next single write+fsync, so many small concurrent commits cost one
 * disk flush. This is what lets per-record commits reach tens of thousands
 * per second with `fsync: 'always'`.
 */
export class FrameLog {
  readonly path: string;
  #fh: FileHandle;
  #size: number;
  #fsync: boolean;

  private constructor(path: string, fh: FileHandle, size: number, fsync: boolean) {
    this.path = path;
    this.#fh = fh;
    this.#size = size;
    this.#fsync = fsync;
  }

  /** Opens (creating) the log, truncating a torn tail. Returns the valid frames found. */
  static async open(path: string, fsync: boolean): Promise<{ log: FrameLog; frames: Buffer[]; tornBytes: number }> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'a+');
    } catch (cause) {
      throw new WalrusError('STATE_STORE_ERROR', `cannot open state log ${path}: ${(cause as Error).message}`, { cause, context: { path } });
    }
    let scan: ScanResult;
    try {
      scan = scanFrames(await fh.readFile());
      if (scan.corruptAt !== undefined) throw corruptLogError(path, scan.corruptAt, scan.resumesAt);
      if (scan.tornBytes > 0) {
        await fh.truncate(scan.validBytes);
        await fh.sync();
      }
    } catch (cause) {
      await fh.close();
      if (cause instanceof WalrusError) throw cause;
      throw new WalrusError('STATE_STORE_ERROR', `cannot recover state log ${path}: ${(cause as Error).message}`, { cause, context: { path } });
    }
    return { log: new FrameLog(path, fh, scan.validBytes, fsync), frames: scan.frames, tornBytes: scan.tornBytes };
  }

  get size(): number {
    return this.#size;
  }

  /** Writes the frames in one call and fsyncs (when enabled). Callers serialise calls (see KeyValueStore's writer). */
  async append(bodies: Uint8Array[]): Promise<void> {
    const buf = bodies.length === 1 ? encodeLogFrame(bodies[0]!) : Buffer.concat(bodies.map(encodeLogFrame));
    try {
      // 'a+' opens with O_APPEND, so the write lands at the end whatever the position.
      await this.#fh.write(buf, 0, buf.length);
      if (this.#fsync) await this.#fh.datasync();
    } catch (cause) {
      const advice = diskFullAdvice(cause, dirname(this.path), 'run again');
      throw new WalrusError('STATE_STORE_ERROR', `cannot append to state log ${this.path}: ${(cause as Error).message}${advice}`, { cause, context: { path: this.path } });
    }
    this.#size += buf.length;
  }

  /** Empties the log (after a snapshot made its frames redundant). */
  async reset(): Promise<void> {
    await this.#fh.truncate(0);
    await this.#fh.sync();
    this.#size = 0;
  }

  async close(): Promise<void> {
    await this.#fh.close();
  }
}
