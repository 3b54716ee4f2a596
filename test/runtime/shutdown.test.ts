import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture, harness, type Harness } from './harness.js';

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
