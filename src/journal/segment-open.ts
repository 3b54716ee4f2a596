import { constants } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';
import { WalrusError } from '../errors/index.js';

/**
 * Opens a segment found in the journal directory for recovery, refusing
 * anything that is not a regular file of its own. Recovery truncates a
 * segment at a torn or corrupt record, and segments are later deleted: a
 * symbolic link named like a segment would have the journal cut the file it
 * points to (any file: its bytes after a plausible first record read as a
 * torn tail) and treat that file's records as its own. A directory failed
 * with a bare EISDIR; a FIFO or device was read (or waited on) as a segment.
 */
export async function openSegmentForRecovery(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    // O_NOFOLLOW: the final component must not be a link (ELOOP), checked by the open itself, with no window between a check and the open.
    handle = await open(path, constants.O_RDWR | (constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw notASegment(path, `a symbolic link (to ${await linkTarget(path)})`);
    if (code === 'EISDIR') throw notASegment(path, 'a directory');
    throw error;
  }
  const stats = await handle.stat().catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  if (!stats.isFile()) {
    await handle.close();
    throw notASegment(path, stats.isFIFO() ? 'a named pipe' : stats.isSocket() ? 'a socket' : 'a device or other special file');
  }
  return handle;
}

async function linkTarget(path: string): Promise<string> {
  try {
    return JSON.stringify(await readlink(path));
  } catch {
    return 'somewhere it cannot read';
  }
}

function notASegment(path: string, kind: string): WalrusError {
  return new WalrusError('JOURNAL_ERROR',
    `journal segment ${path} is ${kind}, not a regular file. Recovery truncates damaged segments and deletes released ones, ` +
    'so it would cut or remove something that is not the journal\'s. Move it out of the journal directory (if it points to a ' +
    'real segment, put a copy of that file in its place to have its entries replayed) and start again', { retriable: false, context: { path } });
}
