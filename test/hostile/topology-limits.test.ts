import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diagnosticsOf, loadTopology, loadTopologyText } from '../../src/topology/index.js';
import { rssOf } from '../helpers/rss.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

/** 5 MB of anchors, each aliasing the previous one eight times. */
function anchors(bytes: number): string {
  const parts = ['app: x\nx-a0: &a0 {k: v}\n'];
  let size = parts[0]!.length;
  for (let i = 1; size < bytes; i++) {
    const line = `x-${i}: &a${i} [${Array(8).fill(`*a${i - 1}`).join(', ')}]\n`;
    parts.push(line);
    size += line.length;
  }
  return parts.join('');
}

test('validate refuses a 5 MB YAML of anchors at once, by its size, with file:line — without parsing it', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-yaml-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'topology.yaml');
  await writeFile(file, anchors(5_000_000));
  const child = spawn(process.execPath, [BIN, 'validate', file, '--no-modules'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, rssOf(child.pid!)); }, 20);
  // Start-up of the CLI (tsx) takes seconds on a loaded machine; parsing the file took minutes before the limit.
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearInterval(sampler);
  clearTimeout(killer);
  t.diagnostic(`peak RSS ${Math.round(peak / 1024 / 1024)} MiB`);
  assert.equal(code, 1, `validate did not finish with "invalid" within 30 s: ${stderr.slice(0, 300)}`);
  assert.match(stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:1:1: error: the topology is \\d+ bytes, over the limit of 262144 bytes`));
  assert.ok(peak < 400 * 1024 * 1024, `validate used ${Math.round(peak / 1024 / 1024)} MiB`);
});

test('a small file with thousands of aliases is refused by a lexer pass, naming the line of the first alias over the limit', async () => {
  const text = `app: x\nx-base: &b {k: v}\nx-list:\n${'  - *b\n'.repeat(5_000)}`;
  const started = performance.now();
  const error = await loadTopologyText(text, 'aliases.yaml').then(() => undefined, (e: unknown) => e);
  const elapsed = performance.now() - started;
  const [d] = diagnosticsOf(error) ?? [];
  assert.equal(d?.line, 104, JSON.stringify(d));
  assert.equal(d?.col, 5);
  assert.match(d!.message, /more than 100 YAML aliases \(\*b is alias number 101\).*refused before it is parsed/);
  assert.ok(elapsed < 1_000, `${Math.round(elapsed)} ms`);
});

test('the size limit is an option: --max-topology-size / maxBytes, checked before reading', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-yaml-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'small.yaml');
  await writeFile(file, `app: x\n# ${'padding '.repeat(200)}\n`);
  const error = await loadTopology(file, { maxBytes: 1_000 }).then(() => undefined, (e: unknown) => e);
  assert.match(diagnosticsOf(error)?.[0]?.message ?? '', /over the limit of 1000 bytes.*--max-topology-size/);
  // Under a raised limit the file is read and validated as usual (here: missing sources).
  const other = await loadTopology(file, { maxBytes: 10_000 }).then(() => undefined, (e: unknown) => e);
  assert.doesNotMatch(JSON.stringify(diagnosticsOf(other)), /over the limit/);
});

test('validate /dev/zero (a device whose size reads 0): refused once past the limit, in bounded memory — it grew to gigabytes and never ended', { timeout: 60_000 }, async (t) => {
  const child = spawn(process.execPath, [BIN, 'validate', '/dev/zero'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  let peak = 0;
  // Killed past 400 MiB: the check fails without taking the machine's memory with it.
  const sampler = setInterval(() => { peak = Math.max(peak, rssOf(child.pid!)); if (peak > 400 * 1024 * 1024) child.kill('SIGKILL'); }, 20);
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearInterval(sampler);
  clearTimeout(killer);
  t.diagnostic(`peak RSS ${Math.round(peak / 1024 / 1024)} MiB`);
  assert.equal(code, 1, `validate did not finish with "invalid" within 20 s and 400 MiB: ${stderr.slice(0, 300)}`);
  assert.match(stderr, /^\/dev\/zero:1:1: error: the topology, read from a pipe or device, passed the limit of 262144 bytes \(stopped reading there;.*--max-topology-size/m);
  assert.ok(peak < 400 * 1024 * 1024, `validate used ${Math.round(peak / 1024 / 1024)} MiB`);
});

test('validate reads a topology from a pipe (a FIFO, as `<(...)` gives) once: it was read ahead for a guess and then parsed as empty, or waited forever', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-yaml-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'topology.fifo');
  execFileSync('mkfifo', [fifo]);
  const yaml = `app: piped\nsources:\n  in: { topic: in }\nprocessors:\n  p: { module: ${JSON.stringify(fileURLToPath(new URL('../fixtures/processors/double.ts', import.meta.url)))}, input: in }\n`;
  const child = spawn(process.execPath, [BIN, 'validate', fifo], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  await writeFile(fifo, yaml); // opens once, writes, closes: a second read of the pipe would wait for a writer that never comes
  const code = await exited;
  clearTimeout(killer);
  assert.equal(code, 0, out);
  assert.match(out, /topology\.fifo: ok — 1 source, 1 processor/);
});
