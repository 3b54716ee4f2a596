import { open, rename, rm } from 'node:fs/promises';

/**
 * Replaces `path`'s contents all at once: writes `path.tmp`, syncs it and
 * renames it over `path`, so a crash leaves the old contents or the new,
 * never a mix. A write that fails (a full disk) removes the temporary copy
 * and throws. The caller syncs the directory when the rename itself must
 * survive a power loss.
 */
export async function replaceFile(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
}
