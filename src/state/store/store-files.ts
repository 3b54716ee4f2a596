import { lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { WalrusError } from '../../errors/index.js';
import { acquirePidLock, type PidLock } from '../../util/pid-lock.js';
import { diskFullAdvice } from '../../util/disk-full.js';
import { STORE_FILES } from './paths.js';
import type { KeyValueStoreOptions } from './store-types.js';

/**
 * Creates the store's directory and takes its lock: one writer per store,
 * since two processes appending to one commit log would replay each other's
 * commits. A directory that cannot be made (a file in its place) or a `LOCK`
 * that cannot be read (a directory in its place) failed with a bare
 * `EEXIST`/`EISDIR` that named neither the store nor the path.
 */
export async function lockStoreDir(opts: KeyValueStoreOptions): Promise<PidLock> {
  const store = opts.name;
  try {
    await mkdir(opts.dir, { recursive: true });
  } catch (cause) {
    throw new WalrusError('STATE_STORE_ERROR', `cannot create the directory of store "${store}", ${opts.dir}: ${(cause as Error).message}` +
      `${diskFullAdvice(cause, opts.dir, 'run again') || '; it must be a directory (or a link to one): move what is there aside'}`, { cause, context: { store, path: opts.dir } });
  }
  try {
    return acquirePidLock(opts.dir, {
      code: 'STATE_STORE_ERROR',
      subject: opts.partition === undefined ? `store "${store}"` : `partition ${opts.partition} of store "${store}"`,
      hint: opts.partition === undefined
        ? 'only one process may run a store: to run a stateful topology as several instances, partition its sources and stores (docs/scaling.md)'
        : 'two live instances claim this partition: give each a different --instance (0..n-1) with the same --instances n',
      hereHint: 'open it once and share the instance',
      context: { store },
    });
  } catch (cause) {
    if (cause instanceof WalrusError) throw cause;
    const path = join(opts.dir, 'LOCK');
    throw new WalrusError('STATE_STORE_ERROR', `cannot take the lock file ${path} of store "${store}": ${(cause as Error).message}; ` +
      'LOCK must be a regular file holding the pid of the process that has the store open: move what is there aside and start again', {
      cause, retriable: false, context: { store, path },
    });
  }
}

/**
 * Refuses a store directory whose files are not regular files. A store
 * truncates, appends to and renames over its files: through a symbolic link
 * to a file elsewhere it would cut that file to nothing at the first open
 * (its bytes look like a torn tail) or compaction, and through one to
 * `/dev/null` every commit would be "durable" nowhere. A directory in a
 * file's place would fail later with a bare EISDIR.
 */
export async function assertRegularFiles(dir: string, store: string): Promise<void> {
  for (const name of Object.values(STORE_FILES)) {
    const path = join(dir, name);
    let kind: string | undefined;
    try {
      const s = await lstat(path);
      if (s.isFile()) continue;
      kind = s.isSymbolicLink() ? 'a symbolic link' : s.isDirectory() ? 'a directory' : 'not a regular file';
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new WalrusError('STATE_STORE_ERROR', `cannot check state file ${path}: ${(cause as Error).message}`, { cause, context: { store, path } });
    }
    throw new WalrusError('STATE_STORE_ERROR', `state file ${path} is ${kind}; a store's files must be regular files in its own directory ` +
      '(the store truncates and rewrites them, whatever they point to). Put the store\'s own file back, or remove it (or move the store\'s directory aside) ' +
      'and start again; the store is then restored from its changelog topic (docs/state.md, "Changelog topic and restore")', {
      retriable: false, context: { store, path },
    });
  }
}
