import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { WalrusError } from '../../errors/index.js';
import { STORE_FILES } from './paths.js';

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
