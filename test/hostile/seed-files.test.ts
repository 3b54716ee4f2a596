import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { rssOf } from '../helpers/rss.js';
import { seedProject } from '../helpers/seed-project.js';

// `run --seed` with files that are not seed files: each is refused naming file:line, after reading
// only as far as the bad line. The file was read whole into one string first: /dev/zero grew the
// process to ~700 MB and failed "Invalid string length"; a 100 MB line was read whole and then
// refused as "payload 0"; the bytes of a binary file that are not UTF-8 were silently replaced by U+FFFD.

const root = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(root, 'bin', 'walrus-stream.js');

async function project(): Promise<string> {
  return seedProject('seedfiles', 'walrus-seed-files-');
}

async function seed(dir: string, file: string, arg = `in=${file}`): Promise<{ code: number | null; stderr: string; peakRss: number }> {
  const child = spawn(process.execPath, [BIN, 'run', 'topology.yaml', '--until-idle', '--seed', arg, '--metrics-address', 'false'],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += String(c); });
  let peakRss = 0;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssOf(child.pid!)); }, 10);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sampler);
  return { code, stderr, peakRss };
}

test('run --seed /dev/zero: refused at the first line, past one entry\'s length, with memory bounded', { timeout: 60_000 }, async (t) => {
  const dir = await project();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const r = await seed(dir, '/dev/zero');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /INVALID_PAYLOAD: \/dev\/zero:1: the line is longer than \d+ bytes, more than one entry can hold \(stopped reading there\); split it/);
  assert.ok(r.peakRss < 300 * 1024 * 1024, `peak RSS ${Math.round(r.peakRss / 1048576)} MB`);
});

test('run --seed with a 100 MB line: refused naming file:line, without reading the whole line', { timeout: 60_000 }, async (t) => {
  const dir = await project();
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'big.txt'), `first\n${'x'.repeat(100 * 1024 * 1024)}\nlast\n`);
  const r = await seed(dir, 'big.txt');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /INVALID_PAYLOAD: \/.*\/big\.txt:2: the line is longer than \d+ bytes/);
  assert.ok(r.peakRss < 300 * 1024 * 1024, `peak RSS ${Math.round(r.peakRss / 1048576)} MB`);
});

test('run --seed with a binary file: refused naming the first line that is not UTF-8, not loaded with its bytes replaced', { timeout: 60_000 }, async (t) => {
  const dir = await project();
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'bin.dat'), Buffer.from([0x6f, 0x6b, 0x0a, 0xff, 0xfe, 0x00, 0x01, 0x0a, 0x6f, 0x6b, 0x0a]));
  const r = await seed(dir, 'bin.dat');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /INVALID_PAYLOAD: \/.*\/bin\.dat:2: the line is not valid UTF-8 \(a binary file\?\); a seed file is text/);
});

test('run --seed with a text file: CRLF, trailing blanks, blank lines and a BOM load as before', { timeout: 60_000 }, async (t) => {
  const dir = await project();
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ok.txt'), 'a\r\nb  \n\n\u00e9t\u00e9\nlast');
  const r = await seed(dir, 'ok.txt');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /seed: loaded 4 entries from .*ok\.txt into "seed-in"/);
});

test('run --seed without <source>=<file> is a usage error (exit 2), before anything starts', { timeout: 60_000 }, async (t) => {
  const dir = await project();
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const value of ['in', '=x', 'in=']) {
    const r = await seed(dir, value.slice(3), value);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.startsWith(`walrus-stream run: --seed expects <source>=<file> (a source of the topology, then the file to load into it), got "${value}"\n`), r.stderr);
  }
});

test('run --seed with a named pipe nobody writes to is refused at once, naming it; a shell pipeline on /dev/stdin still loads', { timeout: 60_000 }, async (t) => {
  // Before: the open of the pipe blocked a thread of Node's pool for ever, and neither SIGINT nor SIGTERM ended the run.
  const dir = await project();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'lines.pipe');
  const made = spawnSync('mkfifo', [fifo]);
  assert.equal(made.status, 0, String(made.stderr));
  const child = spawn(process.execPath, [BIN, 'run', 'topology.yaml', '--until-idle', '--seed', `in=${fifo}`, '--metrics-address', 'false'],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += String(c); });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  clearTimeout(killer);
  assert.equal(signal, null, `still blocked on the pipe after 20 s; stderr: ${stderr}`);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /CONFIG_INVALID: cannot read seed file .*lines\.pipe: it is a named pipe, not a file .*write the data to a file first, or pipe it in/);

  // A shell pipeline (Node's own child stdin is a socket, which /dev/stdin cannot open).
  const piped = spawnSync('sh', ['-c', `printf 'one\\ntwo\\nthree\\n' | "$0" "$1" run topology.yaml --until-idle --seed in=/dev/stdin --metrics-address false`, process.execPath, BIN],
    { cwd: dir, encoding: 'utf8', timeout: 50_000 });
  assert.equal(piped.status, 0, piped.stderr);
  assert.match(piped.stderr, /seed: loaded 3 entries from \/dev\/stdin into "seed-in"/);
});

// Seeding held every line of the file in memory before writing any: 2,000,000 lines took the run to ~738 MB.
// Now a first pass checks the lines and a second writes them, a batch at a time; a pipe is spooled to the stateDir.
async function seedAgainst(dir: string, node: TestBroker, file: string): Promise<{ code: number | null; stderr: string; peakRss: number }> {
  const child = spawn(process.execPath, [BIN, 'run', 'topology.yaml', '--nodes', node.address, '--seed', `in=${file}`, '--metrics-address', 'false'],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let peakRss = 0;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssOf(child.pid!)); }, 5);
  child.stderr.on('data', (c) => {
    stderr += String(c);
    // Seeded: the pipeline that would process the entries is not what is measured.
    if (/seed: loaded/.test(stderr)) child.kill('SIGKILL');
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(killer);
  clearInterval(sampler);
  return { code, stderr, peakRss };
}

test('run --seed with a 60 MB file: memory stays bounded (it was held whole before writing)', { timeout: 60_000 }, async (t) => {
  const dir = await project();
  const node = await startTestBroker();
  t.after(async () => { await node.close(); await rm(dir, { recursive: true, force: true }); });
  await writeFile(join(dir, 'one.txt'), 'one\n');
  const lineCount = 600_000;
  const line = Buffer.from(`${'x'.repeat(99)}\n`);
  await writeFile(join(dir, 'big.txt'), Buffer.concat(Array.from({ length: lineCount }, () => line)));
  const small = await seedAgainst(dir, node, 'one.txt');
  assert.match(small.stderr, /seed: loaded 1 entries/, small.stderr);
  const big = await seedAgainst(dir, node, 'big.txt');
  assert.match(big.stderr, /seed: loaded 600000 entries from .*big\.txt into "seed-in"/, big.stderr);
  const client = new WalrusClient({ nodes: [node.address] });
  t.after(() => client.close());
  assert.equal((await client.state('seed-in')).totalEntries, lineCount + 1);
  // Holding the lines costs more than their 60 MB of text; measured before: +123 MB, after: +31 MB.
  const growth = big.peakRss - small.peakRss;
  assert.ok(growth < 60 * 1024 * 1024, `peak RSS grew ${Math.round(growth / 1048576)} MB seeding 60 MB (one line: ${Math.round(small.peakRss / 1048576)} MB)`);
});

test('run --seed refuses a bad last line before writing anything, from a file and from a pipe (spooled, then removed)', { timeout: 60_000 }, async (t) => {
  const dir = await project();
  const node = await startTestBroker();
  t.after(async () => { await node.close(); await rm(dir, { recursive: true, force: true }); });
  await writeFile(join(dir, 'late.txt'), Buffer.concat([Buffer.from('ok\n'.repeat(5000)), Buffer.from([0xff, 0x0a])]));
  const client = new WalrusClient({ nodes: [node.address] });
  t.after(() => client.close());
  const fromFile = await seedAgainst(dir, node, 'late.txt');
  assert.equal(fromFile.code, 3, fromFile.stderr);
  assert.match(fromFile.stderr, /INVALID_PAYLOAD: \/.*\/late\.txt:5001: the line is not valid UTF-8/);
  // Not spawnSync: the node answering the child runs in this process.
  const sh = spawn('sh', ['-c', `cat late.txt | "$0" "$1" run topology.yaml --nodes "$2" --seed in=/dev/stdin --metrics-address false`, process.execPath, BIN, node.address],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const piped = { stderr: '', status: null as number | null };
  sh.stderr.on('data', (c) => { piped.stderr += String(c); });
  piped.status = await new Promise<number | null>((resolve) => sh.once('exit', resolve));
  assert.equal(piped.status, 3, piped.stderr);
  assert.match(piped.stderr, /INVALID_PAYLOAD: \/dev\/stdin:5001: the line is not valid UTF-8/);
  // The topic may not exist (nothing registered it) or be empty: nothing was written either way.
  assert.equal(await client.state('seed-in').then((s) => s.totalEntries, () => 0), 0, 'nothing was written');
  assert.deepEqual((await readdir(join(dir, 'state', 'seedfiles'))).filter((f) => f.startsWith('seed-spool-')), [], 'the spool file is removed');
});

test('run --seed into a partitioned source: round-robin, every line once', { timeout: 60_000 }, async (t) => {
  const dir = await project();
  const node = await startTestBroker();
  t.after(async () => { await node.close(); await rm(dir, { recursive: true, force: true }); });
  const topology = join(dir, 'topology.yaml');
  await writeFile(topology, (await readFile(topology, 'utf8')).replace('{ topic: seed-in,', '{ topic: seed-in, partitions: 3,'));
  const count = 5_003;
  await writeFile(join(dir, 'lines.txt'), Array.from({ length: count }, (_, i) => `line-${i}`).join('\n'));
  const r = await seedAgainst(dir, node, 'lines.txt');
  assert.match(r.stderr, /seed: loaded 5003 entries from .*lines\.txt into "seed-in"/, r.stderr);
  const client = new WalrusClient({ nodes: [node.address] });
  t.after(() => client.close());
  // Counted as appended (the run, killed once seeded, may have started reading them).
  for (let p = 0; p < 3; p++) assert.equal((await client.state(`seed-in.p${p}`)).totalEntries, Math.ceil((count - p) / 3), `partition ${p}`);
});
