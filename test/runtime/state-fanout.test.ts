import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { runCli, stateFixture } from '../state/run-cli.js';
import { harness } from './harness.js';

/**
 * One source record fans out (a stateless `split` emits two records of its
 * key) into a stateful count. Entries go through one at a time, so the two
 * derived records' commits land in two log writes of the store (the second
 * depends on the first); a kill -9 right after the first write leaves one
 * of them applied and the other not. Each derived record must have its own
 * state id: with one id for both, the restart skips the second as
 * "applied" and its update and output are lost.
 */
const N = 24;
const PARTS = 2;
const keyOf = (i: number) => `k-${i % 3}`;

test('fan-out into a stateful step: kill -9 between the derived records\' commits, restart: every derived record counted once, every output from the state just before it', { timeout: 90_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const stateDir = join(h.stateDir, 'state');
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: fanout
stateDir: ${JSON.stringify(stateDir)}
sources:
  events: { topic: fanout.events, poll: { batchSize: 1 } }
processors:
  split:
    module: ${JSON.stringify(stateFixture('split.ts'))}
    input: events
    ordering: key
    config: { parts: ${PARTS} }
  count:
    module: ${JSON.stringify(stateFixture('part-count.ts'))}
    input: split
    ordering: key
    stores: [counts]
sinks:
  out: { topic: fanout.out, input: count, batch: { maxRecords: 1 } }
stores:
  counts: { fsync: never }
journal: { fsync: never }
`);
  await h.produce('fanout.events', Array.from({ length: N }, (_, i) => ({ key: keyOf(i), value: { i } })), 1);
  const args = ['run', file, '--nodes', h.broker.address, '--until-idle', '--workers', '1', '--max-in-flight', '1', '--progress-interval', '0'];

  // The 15th log write: the first derived record of the 8th entry (entries 1-4 may overlap at start-up).
  const killed = await runCli(args, { fault: 'state.log-written:15' });
  assert.equal(killed.signal, 'SIGKILL', `killed at the fault point (exit ${killed.code}); stderr:\n${killed.stderr}`);
  assert.match(killed.stderr, /WALRUS_STREAM_FAULT: SIGKILL at state\.log-written/);

  // The precondition the test is about: an entry half applied (an odd number of derived records counted).
  const dir = storeDir(stateDir, 'fanout', 'counts');
  const after = await KeyValueStore.open({ dir, name: 'counts' });
  const counted = after.range<number>().reduce((sum, e) => sum + e.value, 0);
  await after.close();
  assert.equal(counted % PARTS, 1, `the kill left one derived record of an entry committed and the other not (${counted} counted)`);

  const again = await runCli(args);
  assert.equal(again.code, 0, `restart finished; stderr:\n${again.stderr}`);

  const records = new Map<string, number>();
  const want = new Map<string, number>(); // `${i}/${part}` → the key's count including it
  for (let i = 0; i < N; i++) {
    const seen = records.get(keyOf(i)) ?? 0;
    records.set(keyOf(i), seen + 1);
    for (let part = 0; part < PARTS; part++) want.set(`${i}/${part}`, seen * PARTS + part + 1);
  }
  const store = await KeyValueStore.open({ dir, name: 'counts' });
  const state = new Map(store.range<number>().map((e) => [e.key, e.value]));
  await store.close();
  assert.deepEqual(state, new Map([...records].map(([k, n]) => [k, n * PARTS])), 'every derived record counted exactly once');

  const outputs = (await h.drain('fanout.out')).map((o) => o.value as { i: number; part: number; n: number });
  const produced = new Set<string>();
  for (const o of outputs) {
    assert.equal(o.n, want.get(`${o.i}/${o.part}`), `output of record ${o.i} part ${o.part}`);
    produced.add(`${o.i}/${o.part}`);
  }
  assert.equal(produced.size, N * PARTS, 'every derived record produced its output');
});
