import { open, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { WalrusError } from '../errors/index.js';

/**
 * One writer per store directory. Two processes appending to the same
 * commit log would interleave frames and each replay the other's commits as
 * its own. The lock file holds the owner's pid: after a `kill -9` it is
 * stale (no such process) and the next opener takes it over. Readers
 * (`walrus-stream store`) do not lock.
 */
const LOCK_NAME = 'LOCK';
/** Stores open in this process (the pid check cannot tell two of our own apart). */
const openHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface StoreLock {
  release(): Promise<void>;
}

export async function lockStoreDir(dir: string, store: string): Promise<StoreLock> {
  const key = resolve(dir);
  const path = join(dir, LOCK_NAME);
  if (openHere.has(key)) {
    throw new WalrusError('STATE_STORE_ERROR', `store "${store}" in ${dir} is already open in this process; open it once and share the instance`, {
      context: { store, path: dir },
    });
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      openHere.add(key);
      return {
        release: async () => {
          openHere.delete(key);
          await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new WalrusError('STATE_STORE_ERROR', `cannot create the store lock ${path}: ${(error as Error).message}`, { cause: error, context: { store, path } });
      }
    }
    const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new WalrusError('STATE_STORE_ERROR', `store "${store}" in ${dir} is in use by process ${owner}; each running instance needs its own stateDir (or app name)`, {
        context: { store, path: dir, pid: owner },
      });
    }
    await rm(path, { force: true });
  }
  throw new WalrusError('STATE_STORE_ERROR', `store "${store}" in ${dir}: another process took the lock while a stale one was being replaced`, { context: { store, path: dir } });
}
