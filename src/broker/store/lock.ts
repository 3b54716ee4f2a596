import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WalrusError } from '../../errors/index.js';

/**
 * One node per data directory: two nodes appending to the same segment
 * files would corrupt them. The lock is a `LOCK` file holding the owner's
 * pid; a lock left by a process that no longer exists (kill -9) is taken
 * over. Directories opened by this process are tracked in memory too, since
 * the pid check cannot tell two in-process nodes apart.
 */
const openedHere = new Set<string>();

export interface DataDirLock {
  release(): void;
}

export function acquireDataDirLock(dataDir: string): DataDirLock {
  const dir = resolve(dataDir);
  const path = join(dir, 'LOCK');
  if (openedHere.has(dir)) throw inUse(dir, process.pid);
  let owner: number | undefined;
  try {
    owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
  } catch {
    owner = undefined;
  }
  if (owner !== undefined && Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) throw inUse(dir, owner);
  writeFileSync(path, `${process.pid}\n`);
  openedHere.add(dir);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      openedHere.delete(dir);
      rmSync(path, { force: true });
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function inUse(dir: string, pid: number): WalrusError {
  return new WalrusError('CONFIG_INVALID', `Data directory ${dir} is in use by another walrus-stream broker (pid ${pid}). Stop it or choose another --data-dir.`, {
    context: { dataDir: dir, pid },
  });
}
