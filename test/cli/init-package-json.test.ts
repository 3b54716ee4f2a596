import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTempDir } from '../helpers/temp-dir.js';

// init --force merges into an existing package.json, which it read whole
// whatever it was: a named pipe kept init waiting for ever, and a link to
// /dev/zero grew it to gigabytes and ended in "RangeError: Invalid string
// length" with a stack trace.

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

test('init --force over a package.json that is a named pipe, /dev/zero or a directory: exit 1 naming it and what it is, nothing written', { timeout: 90_000 }, async () => {
  await withTempDir('walrus-cli-init-pkg-', async (root) => {
    const cases: Array<[string, (path: string) => Promise<void>, string]> = [
      ['fifo', async (path) => { execFileSync('mkfifo', [path]); }, 'a named pipe'],
      ['zero', (path) => symlink('/dev/zero', path), 'a device or socket'],
      ['dir', (path) => mkdir(path), 'a directory'],
    ];
    for (const [name, make, what] of cases) {
      const dir = join(root, name);
      await mkdir(dir);
      await make(join(dir, 'package.json'));
      const r = spawnSync(process.execPath, [BIN, 'init', name, '--force'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 1, `${name}: ${r.signal ?? ''} ${r.stderr}`);
      assert.equal(r.stderr, `walrus-stream init: ${name}/package.json is not a regular file (${what}), so it cannot be merged into; move it out of the way; nothing was written\n`);
      assert.deepEqual(await readdir(dir), ['package.json']);
    }
  });
});
