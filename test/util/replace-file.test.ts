import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replaceFile } from '../../src/util/replace-file.js';

// replaceFile writes `<path>.tmp`, then renames it over `<path>` (the repartition memory, the seed's spool
// origin, the state store's snapshot). A symbolic link left at `<path>.tmp` made the write go through it to the
// file it pointed to, and the rename then put the link itself in place of `<path>`.

test('a symbolic link left at <path>.tmp is replaced, not written through: the file it points to is untouched, <path> is a regular file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-replace-file-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const outside = join(dir, 'outside.txt');
  const path = join(dir, 'memory.json');
  await writeFile(outside, 'keep me');
  await writeFile(path, 'old');
  await symlink(outside, `${path}.tmp`);

  await replaceFile(path, 'new');

  assert.equal(await readFile(outside, 'utf8'), 'keep me');
  assert.ok((await lstat(path)).isFile(), `${path} is a regular file, not a link`);
  assert.equal(await readFile(path, 'utf8'), 'new');
  await assert.rejects(lstat(`${path}.tmp`), { code: 'ENOENT' });
});

test('a stale <path>.tmp file from a crash is replaced as before', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-replace-file-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'state.json');
  await writeFile(`${path}.tmp`, 'half-writ');
  await replaceFile(path, Buffer.from('whole'));
  assert.equal(await readFile(path, 'utf8'), 'whole');
  await assert.rejects(lstat(`${path}.tmp`), { code: 'ENOENT' });
});
