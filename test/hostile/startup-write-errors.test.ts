import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * A write that fails while the embedded node starts ends the CLI with one
 * line naming the file, the cause and what to do. Before: a write failure
 * wrapped by `withFile` (src/util/disk-full.ts) has `code` and `path` but no
 * `syscall`, so src/cli/main.ts printed its raw stack trace ("Error: ENOSPC
 * ... (writing …/00000000000000000002.seg)" and ten "at" lines).
 *
 * The full disk: writing a file-size limit (`ulimit -f`) cannot fail the
 * segment write without failing the LOCK written before it (16 header bytes
 * against ~25), and a real full file system needs a mount. So the child
 * loads a preload that makes each write to a `*.seg` descriptor fail exactly
 * as the kernel's ENOSPC does (Node's fs only: every part of ours is real).
 */

const BIN = join(fileURLToPath(new URL('../../', import.meta.url)), 'bin', 'walrus-stream.js');

const FULL_DISK = `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const { openSync, writeSync } = fs;
const segments = new Set();
fs.openSync = (path, ...rest) => { const fd = openSync(path, ...rest); if (String(path).endsWith('.seg')) segments.add(fd); return fd; };
fs.writeSync = (fd, ...rest) => {
  if (segments.has(fd)) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { errno: -28, code: 'ENOSPC', syscall: 'write' });
  return writeSync(fd, ...rest);
};
syncBuiltinESMExports();
`;

function broker(dir: string, dataDir: string, preload?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [...(preload ? ['--import', preload] : []), BIN, 'broker', '--port', '0', '--data-dir', dataDir, '--json'];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: dir, timeout: 15_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A topic whose only segment has a damaged header: recovery quarantines it and creates segment 2. */
async function damagedTopic(): Promise<{ dir: string; dataDir: string; topic: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-startup-write-'));
  const dataDir = join(dir, 'data');
  const topic = join(dataDir, 'topics', 'orders');
  await mkdir(topic, { recursive: true });
  await writeFile(join(topic, 'topic.json'), JSON.stringify({ name: 'orders' }));
  await writeFile(join(topic, '00000000000000000001.seg'), Buffer.alloc(100, 0x5a));
  return { dir, dataDir, topic };
}

test('a full disk while recovery creates a fresh segment: one line naming the segment, ENOSPC and what to do, no stack trace', { timeout: 30_000 }, async (t) => {
  const { dir, dataDir, topic } = await damagedTopic();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const preload = join(dir, 'full-disk.mjs');
  await writeFile(preload, FULL_DISK);

  const run = await broker(dir, dataDir, preload);
  assert.notEqual(run.code, 0, run.stderr);
  assert.ok((await readdir(topic)).includes('00000000000000000001.seg.quarantined'), 'the damaged segment was quarantined first');
  assert.doesNotMatch(run.stderr, /^\s+at /m, `no stack trace:\n${run.stderr}`);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  const segment = join(topic, '00000000000000000002.seg').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(lines[0]!, new RegExp(`^walrus-stream broker: ENOSPC: no space left on device, write \\(writing ${segment}\\); the disk holding .*orders is full: free space there`));
});

test('a directory where recovery rebuilds topic.json: one line naming it, EISDIR and what to do', { timeout: 30_000 }, async (t) => {
  const { dir, dataDir, topic } = await damagedTopic();
  t.after(() => rm(dir, { recursive: true, force: true }));
  await rm(join(topic, 'topic.json'));
  await mkdir(join(topic, 'topic.json'));

  const run = await broker(dir, dataDir);
  assert.notEqual(run.code, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /^\s+at /m, `no stack trace:\n${run.stderr}`);
  assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
  assert.match(run.stderr, /EISDIR: illegal operation on a directory, open '.*topic\.json'; .*topic\.json is a directory, not a file: give a file's path \(in a data directory: move that directory out of the way\)\n$/);
});

test('a full disk while recovery rewrites an empty segment\'s header (left by a start that failed): one line naming the segment and what to do', { timeout: 30_000 }, async (t) => {
  const { dir, dataDir, topic } = await damagedTopic();
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(topic, '00000000000000000001.seg'), Buffer.alloc(0));
  const preload = join(dir, 'full-disk.mjs');
  await writeFile(preload, FULL_DISK);

  const run = await broker(dir, dataDir, preload);
  assert.notEqual(run.code, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /^\s+at /m, `no stack trace:\n${run.stderr}`);
  assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
  const segment = join(topic, '00000000000000000001.seg').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(run.stderr, new RegExp(`^walrus-stream broker: ENOSPC: no space left on device, write \\(writing ${segment}\\); the disk holding .*orders is full: free space there`));
});
