import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, statfs, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { seedSources } from '../../src/runtime/sources/seed.js';
import { scanSeedFile, seedEntries } from '../../src/runtime/sources/seed-file.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { withBroker } from '../helpers/broker.js';
import { seedProject } from '../helpers/seed-project.js';

// `run --seed` and a disk that fills up. A pipe is copied to a spool file under the state dir before
// it is loaded: `--seed in=<(yes ...)` spooled until the disk was full, and then said "cannot read
// seed file /dev/fd/63: EFBIG: file too large, write" (which file? the seed was read fine). A regular
// file something appends to faster than it is read (`yes >> file`) was read for as long as it grew.

const root = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(root, 'bin', 'walrus-stream.js');
const FIXTURE = join(root, 'test', 'hostile', 'fixtures', 'seed-spool-stdin.ts');

async function spools(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((f) => f.startsWith('seed-spool-'));
}

function sh(script: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn('bash', ['-c', script], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += String(c); });
  child.stderr.on('data', (c) => { stderr += String(c); });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })));
}

test('a pipe is spooled only while the file system keeps its reserve free: past it the copy stops, is removed, and says why', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-seed-spool-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const fs = await statfs(dir);
  // A reserve 256 MiB above what is free now: the first check (after 4 MiB) finds less than it leaves, even if
  // other tests running beside this one free some of the disk meanwhile (2 MiB below, it failed under the suite:
  // freed space let the copy pass its first checks).
  const reserve = fs.bavail * fs.bsize + 256 * 1024 * 1024;
  // `head` bounds the pipe (64 MiB) so that code without the check ends too, having spooled it all.
  const r = await sh(`yes '{"a":1}' | head -c 67108864 | node --import tsx ${FIXTURE} ${dir} ${reserve}`, root);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { ok?: unknown; error?: string };
  assert.ok(out.error, `refused, not spooled whole: ${r.stdout}`);
  assert.match(out.error, /seed file \/dev\/stdin is not a regular file, so it is copied to .*seed-spool-.*\.tmp before it is loaded; after \d+ bytes the file system holding .* has \d+ bytes free, and a copy leaves room to load it \(as many bytes again\) and \d+ more/);
  assert.match(out.error, /the copy was removed and nothing was loaded/);
  const at = Number(/after (\d+) bytes/.exec(out.error)![1]);
  assert.ok(at <= 8 * 1024 * 1024, `stopped after ${at} bytes`);
  assert.deepEqual(await spools(dir), [], 'the partial spool is removed');
});

test('a pipe whose end is written short at the file-size limit: the spool fails with EFBIG, not a copy missing its end', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-seed-short-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // 1,047,552 bytes may be written (ulimit -f 1023: not on a page or read boundary), the pipe holds 100 bytes more,
  // written at once: its last read straddles the limit, is written short, and the pipe ends there.
  const writer = `"${process.execPath}" -e "process.stdout.write(Buffer.alloc(1047652, 'a\\n'))"`;
  const r = await sh(`${writer} | (trap '' XFSZ; ulimit -f 1023; exec node --import tsx ${FIXTURE} ${dir})`, root);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { ok?: unknown; error?: string };
  assert.ok(out.error, `refused, not a spool missing its last 100 bytes: ${r.stdout}`);
  assert.match(out.error, /copied to .*seed-spool-.*\.tmp before it is loaded, and that copy failed after \d+ bytes: EFBIG: file too large, write/);
  assert.deepEqual(await spools(dir), [], 'the partial spool is removed');
});

test('run --seed <(yes ...) past the file-size limit: exit non-zero naming the spool and EFBIG, the spool removed', { timeout: 30_000 }, async (t) => {
  const dir = await seedProject('seedfull', 'walrus-seed-efbig-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  // ulimit -f is in 1 KiB blocks; with SIGXFSZ ignored a write past it fails with EFBIG instead of killing the process.
  const r = await sh(`trap '' XFSZ; ulimit -f 1024; exec node ${BIN} run topology.yaml --until-idle --metrics-address false --seed in=<(yes '{"a":1}')`, dir);
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr, /seed file \/dev\/fd\/\d+ is not a regular file, so it is copied to \/.*\/state\/seedfull\/seed-spool-[^ ]+\.tmp before it is loaded, and that copy failed after \d+ bytes: EFBIG: file too large, write; a file under \/.*\/state\/seedfull reached the largest file this process may write \(the file-size limit, `ulimit -f`\): raise it/);
  assert.deepEqual(await spools(join(dir, 'state', 'seedfull')), [], 'the partial spool is removed');
});

test('a seed file something keeps appending to (yes >> file) is refused after reading the bytes it had, not read while it grows', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-seed-grow-'));
  const file = join(dir, 'grows.txt');
  await writeFile(file, '');
  // The writer is capped at 256 MiB (ulimit -f, SIGXFSZ ignored: yes stops at EFBIG) so a scan that follows it ends too.
  const writer = spawn('bash', ['-c', `trap '' XFSZ; ulimit -f 262144; exec yes '{"a":1}' >> ${file}`], { stdio: 'ignore' });
  t.after(async () => {
    writer.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  while ((await stat(file)).size === 0) await new Promise((r) => setTimeout(r, 1));
  const started = Date.now();
  await assert.rejects(scanSeedFile(file, 65_536, dir), (error: Error) => {
    assert.match(error.message, /seed file .*grows\.txt changed while it was being checked \(\d+ bytes when opened, \d+ bytes once read\): something writes to it\. Nothing was loaded/);
    return true;
  });
  assert.ok(Date.now() - started < 5_000, `refused after ${Date.now() - started} ms`);
});

test('lines appended between the check and the load are not loaded: the second pass reads the bytes the first one checked', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-seed-append-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'seed.txt');
  await writeFile(file, 'a\nb\nc\n');
  const scan = await scanSeedFile(file, 65_536, dir);
  assert.equal(scan.entries, 3);
  await appendFile(file, 'd\ne\n');
  const got: string[] = [];
  for await (const group of seedEntries(scan)) got.push(...group);
  assert.deepEqual(got, ['a', 'b', 'c']);
});

test('the seed marker on a full disk: the seed stops naming the marker file and the full disk, leaves no half-written copy, and the next start loads each line once', async () => {
  await withBroker(async (node) => {
    const dir = await mkdtemp(join(tmpdir(), 'walrus-seed-marker-'));
    const client = new WalrusClient({ nodes: [node.address], retry: { retries: 0 } });
    try {
      const echo = join(root, 'test', 'fixtures', 'processors', 'echo.js');
      const yaml = ['app: seeded', 'stateDir: ${STATE_DIR}', 'cluster:', `  nodes: [${node.address}]`,
        'sources:', '  in: { topic: seed-in, format: text, serializer: string }',
        'processors:', `  echo: { module: ${JSON.stringify(echo)}, input: in }`, ''].join('\n');
      const topology = (await loadTopologyText(yaml, join(dir, 'topology.yaml'), { env: { STATE_DIR: dir } })).topology;
      const file = join(dir, 'lines.txt');
      await writeFile(file, 'a\nb\nc\n');
      const markerDir = join(dir, 'seeded');
      await mkdir(markerDir, { recursive: true });
      // The marker is written aside first: that file on /dev/full gives ENOSPC from the kernel, no mount needed.
      await symlink('/dev/full', join(markerDir, 'seeded.json.tmp'));
      await client.register('seed-in');
      await assert.rejects(seedSources(topology, [{ source: 'in', file }], client, node.address), (error: Error) => {
        assert.match(error.message, /^cannot save the seed marker \/.*\/seeded\/seeded\.json: ENOSPC: no space left on device, write; the disk holding \/.*\/seeded is full: free space there/);
        return true;
      });
      assert.deepEqual(await readdir(markerDir), [], 'no half-written marker copy is left');
      const [loaded] = await seedSources(topology, [{ source: 'in', file }], client, node.address);
      assert.equal(loaded!.entries, 3);
      assert.equal((await client.state('seed-in')).totalEntries, 3, 'each line once');
      assert.match(await readFile(join(markerDir, 'seeded.json'), 'utf8'), /seed-in/);
    } finally {
      await client.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
