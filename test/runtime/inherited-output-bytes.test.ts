import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../state/run-cli.js';
import { fixture, harness } from './harness.js';

// Outputs without a key or headers of their own carry the input's into every sink entry, and maxOutputBytes
// counted only their encoded values there: one record with a 40 KB header emitting 100,000 small outputs made
// 5 GB of sink entries in the worker (4.8 GB RSS) before anything was checked, and the worker was terminated
// at its deadline three times, the record dead-lettered as PROCESSOR_TIMEOUT after 116 s.

test('maxOutputBytes counts the key and headers a sink entry inherits from the input: a fan-out of a record with a large header or key is dead-lettered with OUTPUT_LIMIT, a smaller one is written', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  // 10,000-character header or key; 200 outputs carry 2 MB of it (over 1 MiB), 50 outputs 500 KB (under).
  await h.produce('iob.in', [
    { value: { i: 0, n: 200, header: 10_000 } },
    { value: { i: 1, n: 50, header: 10_000 } },
    { value: { i: 2, n: 200 }, key: 'k'.repeat(10_000) },
    { value: { i: 3, n: 50 }, key: 'k'.repeat(10_000) },
    { value: { i: 4, n: 200 } },
  ]);
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: iob
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
workers: 1
sources:
  in: { topic: iob.in }
processors:
  tag: { module: ${JSON.stringify(fixture('inherit-fanout.ts'))}, input: in, config: { stage: tag } }
  fan: { module: ${JSON.stringify(fixture('inherit-fanout.ts'))}, input: tag, fuse: false, maxOutputBytes: 1MiB, config: { stage: fan } }
sinks:
  out: { topic: iob.out, input: fan }
`);
  const run = await runCli(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0', '--json']);
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { processors: Record<string, { processed: number; deadLettered: number; retries: number; emitted: number }> };
  const fan = summary.processors.fan!;
  assert.deepEqual([fan.processed, fan.deadLettered, fan.retries, fan.emitted], [3, 2, 0, 50 + 50 + 200]);
  const dead = (await h.drainEntries('iob.in.dlq')).map((e) => JSON.parse(e) as { processor: string; attempts: number; error: { code: string; message: string } });
  assert.equal(dead.length, 2);
  for (const d of dead) {
    assert.deepEqual([d.processor, d.attempts, d.error.code], ['fan', 1, 'OUTPUT_LIMIT']);
    assert.match(d.error.message, /processor "fan" produced more than 1,048,576 bytes of outputs \(as encoded for its sinks and the next stage groups\)/);
  }
  const out = (await h.drain('iob.out')).map((r) => (r.value as { i: number }).i);
  assert.deepEqual([1, 3, 4].map((i) => out.filter((x) => x === i).length), [50, 50, 200]);
  assert.equal(out.length, 300, 'nothing of the records over the bound');
});
