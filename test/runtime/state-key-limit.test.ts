import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../state/run-cli.js';
import { fixture, harness } from './harness.js';

// A record whose key is longer than a state key may be (1,024 UTF-8 bytes) reaching a stateful step: the
// coordinator read the key's state to ship it with the task, the store refused the key, and the throw ended
// `run` (exit 1, uncaught) before anything was dead-lettered; the record stayed unreleased, so every restart
// ended the same way.

test('a record key longer than a state key may be, at a stateful step: that record is dead-lettered saying why, the run goes on and every other key is counted exactly', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const N = 300;
  const long = (i: number) => `${'k'.repeat(1_030)}-${i}`;
  const keyOf = (i: number) => (i % 50 === 7 ? long(i) : i % 50 === 8 ? `é${'x'.repeat(1_023)}` : `cust-${i % 5}`);
  await h.produce('skl.in', Array.from({ length: N }, (_, i) => ({ key: keyOf(i), value: { i, amount: 1 } })), 3);
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: skl
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
workers: 2
sources:
  in: { topic: skl.in }
processors:
  count: { module: ${JSON.stringify(fixture('state-count.ts'))}, input: in, ordering: key, stores: [totals], batchSize: 16 }
sinks:
  out: { topic: skl.out, input: count }
stores:
  totals: { fsync: never }
`);
  const run = await runCli(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0', '--json']);
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  const tooLong = Array.from({ length: N }, (_, i) => i).filter((i) => Buffer.byteLength(keyOf(i)) > 1_024);
  assert.equal(tooLong.length, 12, 'the 2-byte é makes a key of 1,024 characters (1,025 bytes) too long as well');
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { processors: Record<string, { processed: number; deadLettered: number }> };
  assert.deepEqual([summary.processors.count!.processed, summary.processors.count!.deadLettered], [N - tooLong.length, tooLong.length]);
  const dead = (await h.drainEntries('skl.in.dlq')).map((e) => JSON.parse(e) as { processor: string; attempts: number; error: { code: string; message: string }; key: string });
  assert.equal(dead.length, tooLong.length);
  for (const d of dead) {
    assert.deepEqual([d.processor, d.attempts, d.error.code], ['count', 1, 'STATE_STORE_ERROR']);
    assert.match(d.error.message, /store "totals": key "k{40}…|store "totals": key "éx{39}…/);
    assert.match(d.error.message, /is longer than 1024 UTF-8 bytes; a record key is a state key: key records by something shorter/);
  }
  // Every other record counted once, per key in order: 1, 2, 3, ...
  const out = (await h.drain('skl.out')).map((r) => r.value as { key: string; n: number; i: number });
  assert.equal(out.length, N - tooLong.length);
  for (let k = 0; k < 5; k++) {
    const mine = out.filter((o) => o.key === `cust-${k}`).sort((a, b) => a.i - b.i);
    assert.deepEqual(mine.map((o) => o.n), Array.from({ length: mine.length }, (_, j) => j + 1), `cust-${k}`);
  }
});
