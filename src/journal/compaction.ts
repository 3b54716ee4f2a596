import { open, rename } from 'node:fs/promises';
import type { LiveEntry } from './live-set.js';
import { encodeAppend } from './record-format.js';
import { encodeSegmentHeader, segmentPath, syncDir, tempPath, writeFully } from './segment-file.js';

/** When a compaction is worth it: the live entries are a small part of many bytes or many files. */
export function shouldCompact(input: {
  segments: number;
  totalBytes: number;
  liveBytes: number;
  minBytes: number;
  maxLiveRatio: number;
  maxSegments: number;
}): boolean {
  if (input.segments < 2) return false;
  if (input.liveBytes > input.maxLiveRatio * input.totalBytes) return false;
  return input.totalBytes >= input.minBytes || input.segments > input.maxSegments;
}

const WRITE_CHUNK_BYTES = 1024 * 1024;

/**
 * Writes the live entries into a new segment `id`, atomically: a temp file
 * is written and synced, then renamed into place and the directory synced.
 * Until the rename a crash leaves only a `.tmp` file, which recovery
 * deletes; after it, recovery may see both the old segments and this one,
 * and the newer copy of each seq wins (see `LiveSet.add`). The caller
 * deletes the old segments afterwards.
 *
 * @returns the new segment's size and each entry's record size in it.
 */
export async function writeCompactedSegment(
  dir: string,
  id: number,
  baseSeq: number,
  entries: readonly LiveEntry[],
  sync: boolean,
): Promise<{ size: number; recordBytes: Map<number, number> }> {
  const temp = tempPath(dir, id);
  const handle = await open(temp, 'wx');
  const recordBytes = new Map<number, number>();
  let position = 0;
  try {
    let pending: Buffer[] = [encodeSegmentHeader(baseSeq)];
    let pendingBytes = pending[0]!.length;
    const flush = async (): Promise<void> => {
      const buf = Buffer.concat(pending, pendingBytes);
      await writeFully(handle, buf, position);
      position += buf.length;
      pending = [];
      pendingBytes = 0;
    };
    for (const entry of entries) {
      const record = encodeAppend(entry.seq, Buffer.from(entry.source, 'utf8'), entry.entry);
      recordBytes.set(entry.seq, record.length);
      pending.push(record);
      pendingBytes += record.length;
      if (pendingBytes >= WRITE_CHUNK_BYTES) await flush();
    }
    if (pendingBytes > 0) await flush();
    if (sync) await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(temp, segmentPath(dir, id));
  if (sync) await syncDir(dir);
  return { size: position, recordBytes };
}
