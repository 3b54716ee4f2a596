import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * A full disk without `mount`: the one descriptor this process holds on a
 * file `matches` accepts is closed and /dev/full opened in its place (POSIX
 * hands out the lowest free number, so it lands on the same one). The
 * owner's next write there fails with ENOSPC from the kernel. Linux only
 * (/proc/self/fd), like these machines. Returns the file's path.
 */
export function fillDiskUnder(matches: (path: string) => boolean): string {
  const found = readdirSync('/proc/self/fd').map(Number).flatMap((fd) => {
    try {
      const path = readlinkSync(`/proc/self/fd/${fd}`);
      return matches(path) ? [{ fd, path }] : [];
    } catch {
      return [];
    }
  });
  assert.equal(found.length, 1, `exactly one open file matches: ${found.map((f) => f.path).join(', ')}`);
  closeSync(found[0]!.fd);
  const full = openSync('/dev/full', 'r+');
  assert.equal(full, found[0]!.fd, 'the lowest free descriptor is reused');
  return found[0]!.path;
}
