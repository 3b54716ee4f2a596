import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { runCli } from '../state/run-cli.js';
import { fixture, harness } from './harness.js';

// A record's state writes were bounded per value (32 KiB) but not in number: one record putting 300,000
// values of 1 KB (300 MB) took a run to 2.2 GB of RSS, all of it crossing to the coordinator. They now count
// against maxOutputBytes with the record's outputs.

test('state writes count against maxOutputBytes: a record writing more is dead-lettered (OUTPUT_LIMIT, once), none of its writes kept; the others commit', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const N = 24;
  // 40 × 30,000 characters (about 1.2 MB encoded) is over 1 MiB; 20 × 30,000 is under.
  const rec = (i: number) => ({ key: `k${i % 6}`, value: { i, n: i % 8 === 3 ? 40 : 20, size: 30_000 } });
  await h.produce('swb.in', Array.from({ length: N }, (_, i) => rec(i)), 2);
  const file = join(h.stateDir, 'topology.yaml');
  const stateDir = join(h.stateDir, 'state');
  await writeFile(file, `
app: swb
stateDir: ${JSON.stringify(stateDir)}
workers: 2
sources:
  in: { topic: swb.in }
processors:
  bulk: { module: ${JSON.stringify(fixture('state-puts.ts'))}, input: in, ordering: key, stores: [bulk], maxOutputBytes: 1MiB }
sinks:
  out: { topic: swb.out, input: bulk }
stores:
  bulk: { fsync: never }
`);
  const run = await runCli(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0', '--json']);
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  const over = Array.from({ length: N }, (_, i) => i).filter((i) => i % 8 === 3);
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { processors: Record<string, { processed: number; deadLettered: number; retries: number }> };
  assert.deepEqual([summary.processors.bulk!.processed, summary.processors.bulk!.deadLettered, summary.processors.bulk!.retries], [N - over.length, over.length, 0]);
  const dead = (await h.drainEntries('swb.in.dlq')).map((e) => JSON.parse(e) as { attempts: number; key: string; error: { code: string; message: string } });
  assert.equal(dead.length, over.length);
  for (const d of dead) {
    assert.deepEqual([d.attempts, d.error.code], [1, 'OUTPUT_LIMIT']);
    assert.match(d.error.message, /processor "bulk" produced more than 1,048,576 bytes of outputs \(.*its state writes: keys and encoded values\) for record \S+; the record is dead-lettered/);
  }
  assert.deepEqual((await h.drain('swb.out')).map((r) => (r.value as { i: number }).i).sort((a, b) => a - b),
    Array.from({ length: N }, (_, i) => i).filter((i) => !over.includes(i)));
  // Only the records under the bound wrote: 20 entries per key (every key had one), nothing past @000019.
  const store = await KeyValueStore.open({ dir: storeDir(stateDir, 'swb', 'bulk'), name: 'bulk' });
  try {
    const keys = store.range().map((e) => e.key);
    assert.equal(keys.length, 6 * 20);
    assert.ok(keys.every((k) => Number(k.split('@')[1]) < 20), 'no entry of a record over the bound');
  } finally {
    await store.close();
  }
});
