import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRecords } from '../../src/codec/index.js';
import { fixture, harness, type Harness } from './harness.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

function start(file: string, args: string[]) {
  const child = spawn(process.execPath, [bin, 'run', file, '--nodes', h.broker.address, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c; });
  child.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4_000); });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { child, exited };
}
const run = (file: string, args: string[]) => start(file, ['--until-idle', ...args]).exited;

test('two run instances of one topology against one node share the work: each record processed once, distinct journals', { timeout: 90_000 }, async () => {
  const n = 2_000;
  await h.client.register('in');
  await h.client.register('out');
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: t
stateDir: ${h.stateDir}
workers: 1
sources:
  in: { topic: in, poll: { batchSize: 4, minInterval: 1ms, maxInterval: 10ms } }
processors:
  slow: { module: ${fixture('slow.ts')}, input: in, batchSize: 20, concurrency: 2 }
sinks:
  out: { topic: out, input: slow, batch: { linger: 1ms } }
observability: { logLevel: warn }
`);
  const instances = [start(file, ['--instance', 'a']), start(file, ['--instance', 'b'])];
  // Records arrive once both instances are up (each has opened its journal),
  // so a slow start-up of one cannot leave the other all the work.
  const journals = ['a', 'b'].map((id) => join(h.stateDir, 't', 'instances', id, 'journal'));
  for (let i = 0; i < 600 && !journals.every((dir) => existsSync(dir)); i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  await h.produce('in', Array.from({ length: n }, (_, i) => ({ value: { ms: 2, i } })), 5);
  // Once the source is read to its end, a clean stop drains both.
  for (let i = 0; i < 1_200 && ((await h.client.state('in')).lag ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 50));
  for (const { child } of instances) child.kill('SIGTERM');
  const [a, b] = await Promise.all(instances.map((i) => i.exited));
  assert.equal(a.code, 143, a.stderr);
  assert.equal(b.code, 143, b.stderr);
  const records = [a, b].map((r) => (JSON.parse(r.stdout) as { sources: { in: { records: number } } }).sources.in.records);
  console.log(`scale-out: instance a processed ${records[0]}, instance b ${records[1]} of ${n}`);
  assert.ok(records[0] > 0 && records[1] > 0, `both instances got work: ${records.join(' / ')}`);
  assert.equal(records[0] + records[1], n, 'no record was read twice');
  const out = (await h.drain('out')).map((r) => (r.value as { i: number }).i).sort((x, y) => x - y);
  assert.deepEqual(out, Array.from({ length: n }, (_, i) => i), 'every record exactly once');
  assert.ok(existsSync(join(h.stateDir, 't', 'instances', 'a', 'journal')));
  assert.ok(existsSync(join(h.stateDir, 't', 'instances', 'b', 'journal')));
});

test('--instance must be one safe path segment', async () => {
  const result = await run(join(h.stateDir, 'topology.yaml'), ['--instance', '../x']);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--instance: expected 1-64 characters/);
});

test('dedupe: a source with a window drops records whose id it saw recently (an upstream replay)', async () => {
  await h.client.register('in');
  const entry = (i: number) => encodeRecords([{ id: `id-${i}`, value: Buffer.from(JSON.stringify({ ms: 0, i })) }]);
  // 0..9, then 3..6 again (a replayed in-flight window), then 10.
  await h.client.putMany('in', [...Array.from({ length: 10 }, (_, i) => entry(i)), ...[3, 4, 5, 6].map(entry), entry(10)]);
  const summary = await h.run(`
app: d
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in, dedupe: { window: 100 }, poll: { minInterval: 1ms, maxInterval: 10ms } }
processors:
  slow: { module: ./slow.ts, input: in }
sinks:
  out: { topic: out, input: slow }
`);
  const out = (await h.drain('out')).map((r) => (r.value as { i: number }).i).sort((x, y) => x - y);
  assert.deepEqual(out, Array.from({ length: 11 }, (_, i) => i));
  assert.equal(summary.sources.in.duplicates, 4);
});
