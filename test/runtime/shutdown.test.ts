import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture, harness, type Harness } from './harness.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

test('SIGINT stops fetching, drains what is in flight and exits 130: every record is either output or still in the source', async () => {
  const n = 400;
  await h.produce('in', Array.from({ length: n }, (_, i) => ({ value: { ms: 10, i } })), 1);
  await h.client.register('out');
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: t
stateDir: ${h.stateDir}
workers: 1
sources:
  in: { topic: in, poll: { batchSize: 8 } }
processors:
  slow: { module: ${fixture('slow.ts')}, input: in, batchSize: 4, concurrency: 2 }
sinks:
  out: { topic: out, input: slow, batch: { linger: 1ms } }
observability: { logLevel: warn }
`);
  const child = spawn(process.execPath, [bin, 'run', file, '--nodes', h.broker.address, '--max-in-flight', '16', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c; });
  child.stderr.on('data', (c: Buffer) => { stderr += c; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  // Wait until records flow, then interrupt.
  const seen: unknown[] = [];
  for (let i = 0; i < 300 && seen.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    seen.push(...(await h.drain('out')));
  }
  assert.ok(seen.length > 0, `no output before the interrupt: ${stderr}`);
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, stderr);
  const summary = JSON.parse(stdout) as { inFlight: number; sources: { in: { records: number } } };
  assert.equal(summary.inFlight, 0);
  assert.ok(summary.sources.in.records < n, 'it stopped before reading everything');

  const out = [...seen, ...(await h.drain('out'))].map((r) => ((r as { value: { i: number } }).value).i);
  const left = (await h.drain('in')).map((r) => (r.value as { i: number }).i);
  assert.equal(new Set(out).size, out.length, 'no duplicates');
  assert.deepEqual([...out, ...left].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
});

test('SIGTERM while the node stops answering: the run gives up after --shutdown-timeout and exits 143 saying what it left; the next start completes every record from the journal', { timeout: 90_000 }, async () => {
  const n = 60;
  await h.produce('deaf.in', Array.from({ length: n }, (_, i) => ({ value: { ms: 20, i } })), 1);
  await h.client.register('deaf.out');
  const [host, port] = h.broker.address.split(':');
  const proxy = await FaultProxy.start({ host: host!, port: Number(port) });
  try {
    const file = join(h.stateDir, 'deaf.yaml');
    await writeFile(file, `
app: deaf
stateDir: ${h.stateDir}
workers: 1
cluster: { requestTimeout: 1s }
sources:
  deaf: { topic: deaf.in }
processors:
  slow: { module: ${fixture('slow.ts')}, input: deaf, batchSize: 4, concurrency: 1 }
sinks:
  out: { topic: deaf.out, input: slow, batch: { linger: 1ms } }
observability: { logLevel: error }
`);
    const child = spawn(process.execPath, [bin, 'run', file, '--nodes', proxy.address, '--shutdown-timeout', '3000', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c; });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const seen: Array<{ value: { i: number } }> = [];
    for (let i = 0; i < 300 && seen.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      seen.push(...(await h.drain('deaf.out')) as Array<{ value: { i: number } }>);
    }
    assert.ok(seen.length > 0, `no output before the node went deaf: ${stderr}`);
    // The node stops answering (nothing goes through either way), then the process is asked to stop.
    proxy.setMode({ kind: 'blackhole' });
    const signalled = performance.now();
    child.kill('SIGTERM');
    const code = await exited;
    const took = performance.now() - signalled;
    assert.equal(code, 143, stderr);
    assert.match(stderr, /shutdown did not finish within 3000 ms: \d+ records in flight still wait .* they stay in the journal/);
    assert.ok(took < 15_000, `exited ${Math.round(took)} ms after SIGTERM (deadline 3 s, plus closing)`);

    // The next start (straight to the node) replays the journal: every record is output, none lost.
    const again = spawn(process.execPath, [bin, 'run', file, '--nodes', h.broker.address, '--until-idle', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err2 = '';
    again.stderr.on('data', (c: Buffer) => { err2 += c; });
    assert.equal(await new Promise<number | null>((resolve) => again.on('exit', (c) => resolve(c))), 0, err2);
    const out = [...seen, ...(await h.drain('deaf.out')) as Array<{ value: { i: number } }>].map((r) => r.value.i);
    assert.deepEqual([...new Set(out)].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), 'every record output (at least once)');
  } finally {
    await proxy.close();
  }
});
