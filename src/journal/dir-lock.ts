import { open, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { WalrusError } from '../errors/index.js';

/**
 * One journal directory, one writer. Two processes appending to the same
 * segments would interleave records and each would release the other's
 * entries on its next recovery, so a second opener is refused with a clear
 * error. The lock file holds the owner's pid: after a `kill -9` it is stale
 * (no such process) and the next opener takes it over.
 */

const LOCK_NAME = 'LOCK';
/** Directories open in this process: the pid check cannot tell two of our own journals apart. */
const openHere = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DirLock {
  release(): Promise<void>;
}

export async function lockDir(dir: string): Promise<DirLock> {
  const key = resolve(dir);
  const lockPath = join(dir, LOCK_NAME);
  if (openHere.has(key)) {
    throw new WalrusError('JOURNAL_ERROR', `journal ${dir} is already open in this process; close it before opening it again`, {
      context: { dir },
    });
  }
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      openHere.add(key);
      return {
        release: async () => {
          openHere.delete(key);
          await rm(lockPath, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new WalrusError('JOURNAL_ERROR', `cannot create the journal lock ${lockPath}: ${(error as Error).message}`, {
          cause: error,
          context: { dir },
        });
      }
    }
    const owner = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
    // Our own pid here means a journal of this process that was never closed (not in openHere): stale too.
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
      throw new WalrusError(
        'JOURNAL_ERROR',
        `journal ${dir} is in use by process ${owner}; run a second instance with a different app name or stateDir (each instance needs its own journal)`,
        { context: { dir, pid: owner } },
      );
    }
    await rm(lockPath, { force: true });
  }
  throw new WalrusError('JOURNAL_ERROR', `journal ${dir}: another process took the lock while a stale one was being replaced`, {
    context: { dir },
  });
}
