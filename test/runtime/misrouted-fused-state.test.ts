import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { fixture, harness } from './harness.js';
import { stateFixture } from '../state/run-cli.js';

test('a record whose key belongs to another instance\'s partition, met by a fused stateful processor: dead-lettered naming it and the partition (not left in the journal); the rest counted', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  // Instance 1 of 2 reads partitions 1 and 3. Into partition 1 go keys that hash there, and two that do not
  // (written by another rule than the key hash): `count` runs fused after `echo`, so it meets them inside the group.
  const own = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].filter((k) => partitionOfKey(k, 4) === 1).slice(0, 2);
  const foreign = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].filter((k) => partitionOfKey(k, 4) % 2 === 0).slice(0, 2);
  assert.equal(own.length, 2);
  assert.equal(foreign.length, 2);
  const records = [...own, ...foreign, ...own].map((key, i) => ({ key, value: { amount: 1, i } }));
  await h.produce('mis.in.p1', records);
  const summary = await h.run(`
app: mis
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: mis.in, partitions: 4 }
processors:
  echo: { module: ${JSON.stringify(fixture('echo.js'))}, input: in, deadLetter: mis.dlq }
  count: { module: ${JSON.stringify(stateFixture('../../../fixtures/processors/state-count.ts'))}, input: echo, ordering: key, stores: [totals], deadLetter: mis.dlq }
sinks:
  out: { topic: mis.out, input: count }
stores:
  totals: { partitions: 4 }
`, { assignment: { instance: 1, instances: 2 } });
  assert.equal(summary.unreleased, undefined, 'no entry left in the journal');
  assert.equal(summary.processors.count!.deadLettered, 2);
  const dead = (await h.drainEntries('mis.dlq')).map((e) => JSON.parse(e) as { processor: string; error: { code: string; message: string }; entry: string; key?: string });
  assert.deepEqual(dead.map((d) => d.processor), ['count', 'count']);
  for (const d of dead) {
    assert.equal(d.error.code, 'STATE_STORE_ERROR');
    assert.match(d.error.message, /belongs to partition \d of 4, which this instance does not own \(it owns partitions 1, 3\)/);
    assert.ok(foreign.includes(d.key!), `dead letter of a foreign key: ${d.key}`);
  }
  const counted = (await h.drain('mis.out')).map((o) => o.value as { key: string; n: number });
  assert.deepEqual(counted.map((c) => c.key).sort(), [...own, ...own].sort(), 'the records of owned keys counted');
  assert.deepEqual(Object.fromEntries(own.map((k) => [k, Math.max(...counted.filter((c) => c.key === k).map((c) => c.n))])), Object.fromEntries(own.map((k) => [k, 2])));
});
