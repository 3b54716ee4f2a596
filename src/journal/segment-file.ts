import { writeSync } from 'node:fs';
import { open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { readU64, writeU64 } from './record-format.js';

/**
 * Segment files: `<dir>/<12-digit id>.journal`, each starting with a 16-byte
 * header (`WSJ1`, the base seq, a crc32 of both). The base seq is the next
 * seq the journal would hand out when the segment was created: it keeps seqs
 * growing across restarts even when every older segment has been deleted.
 */

export const SEGMENT_MAGIC = Buffer.from('WSJ1', 'latin1');
export const SEGMENT_HEADER_BYTES = 16;
const SEGMENT_SUFFIX = '.journal';
const TEMP_SUFFIX = '.tmp';
const NAME_PATTERN = /^(\d{12})\.journal$/;

export function segmentName(id: number): string {
  return `${String(id).padStart(12, '0')}${SEGMENT_SUFFIX}`;
}

export function segmentPath(dir: string, id: number): string {
  return join(dir, segmentName(id));
}

export function tempPath(dir: string, id: number): string {
  return segmentPath(dir, id) + TEMP_SUFFIX;
}

export function encodeSegmentHeader(baseSeq: number): Buffer {
  const buf = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(buf, 0);
  writeU64(buf, baseSeq, 4);
  buf.writeUInt32LE(crc32(buf.subarray(0, 12)), 12);
  return buf;
}

export type SegmentHeaderCheck =
  | { kind: 'ok'; baseSeq: number }
  /** Shorter than a header: the process died while creating it, so no record can follow. */
  | { kind: 'torn' }
  | { kind: 'foreign'; problem: string };

export function checkSegmentHeader(buf: Buffer): SegmentHeaderCheck {
  if (buf.length < SEGMENT_HEADER_BYTES) return { kind: 'torn' };
  if (!buf.subarray(0, 4).equals(SEGMENT_MAGIC)) return { kind: 'foreign', problem: 'it does not start with the WSJ1 magic' };
  if (crc32(buf.subarray(0, 12)) !== buf.readUInt32LE(12)) return { kind: 'foreign', problem: 'its header checksum does not match' };
  return { kind: 'ok', baseSeq: readU64(buf, 4) };
}

/**
 * The base seq of a damaged header when exactly one byte of it is wrong:
 * the one-byte change that makes magic and checksum verify, if exactly one
 * does. Any byte may be the bad one — magic, base seq or checksum — and a
 * second, different fix verifying by chance is a crc32 collision.
 */
export function correctSegmentHeader(buf: Buffer): { offset: number; baseSeq: number } | undefined {
  if (buf.length < SEGMENT_HEADER_BYTES) return undefined;
  const candidate = Buffer.from(buf.subarray(0, SEGMENT_HEADER_BYTES));
  let found: { offset: number; baseSeq: number } | undefined;
  for (let offset = 0; offset < SEGMENT_HEADER_BYTES; offset += 1) {
    const original = candidate[offset]!;
    for (let value = 0; value < 256; value += 1) {
      if (value === original) continue;
      candidate[offset] = value;
      const check = checkSegmentHeader(candidate);
      if (check.kind !== 'ok') continue;
      if (found) return undefined;
      found = { offset, baseSeq: check.baseSeq };
    }
    candidate[offset] = original;
  }
  return found;
}

/** Segment ids present in `dir`, ascending; leftover `.tmp` files of an interrupted compaction are removed. */
export async function listSegments(dir: string): Promise<number[]> {
  const ids: number[] = [];
  for (const name of await readdir(dir)) {
    const match = NAME_PATTERN.exec(name);
    if (match) ids.push(Number(match[1]));
    // A temp file was never renamed into place, so nothing in it was ever acknowledged.
    else if (name.endsWith(SEGMENT_SUFFIX + TEMP_SUFFIX)) await rm(join(dir, name), { force: true });
  }
  return ids.sort((a, b) => a - b);
}

/** Makes a directory entry change (create, rename, unlink) durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes all of `buf` at `position`, looping over short writes. */
export async function writeFully(handle: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

/** Synchronous twin of {@link writeFully}, for the commit path (see `SegmentManager.write`). */
export function writeFullySync(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

/** Creates a fresh segment file holding only its header, durable when `sync` is set. */
export async function createSegment(dir: string, id: number, baseSeq: number, sync: boolean): Promise<FileHandle> {
  const handle = await open(segmentPath(dir, id), 'wx');
  try {
    await writeFully(handle, encodeSegmentHeader(baseSeq), 0);
    if (sync) {
      await handle.datasync();
      await syncDir(dir);
    }
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}
