import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { harness, type Harness } from './harness.js';

const KEYS = 12;
const order = (i: number) => ({ key: `cust-${(i * 7) % KEYS}`, value: { i, amount: (i % 5) + 1 } });

const topology = (workers: number) => `
app: counts
stateDir: \${STATE_DIR}
workers: ${workers}
sources:
  orders: { topic: orders }
processors:
  count:
    module: ./state-count.ts
    input: orders
    ordering: key
    stores: [totals]
    batchSize: 16
sinks:
  out: { topic: counts.out, input: count }
stores:
  totals: { fsync: never }
`;

function expected(from: number, to: number): Map<string, { n: number; sum: number }> {
  const totals = new Map<string, { n: number; sum: number }>();
  for (let i = from; i < to; i++) {
    const { key, value } = order(i);
    const t = totals.get(key) ?? { n: 0, sum: 0 };
    totals.set(key, { n: t.n + 1, sum: t.sum + value.amount });
  }
  return totals;
}

async function storeContents(h: Harness): Promise<Map<string, unknown>> {
  const store = await KeyValueStore.open({ dir: storeDir(h.stateDir, 'counts', 'totals'), name: 'totals' });
  try {
    return new Map(store.range().map((e) => [e.key, e.value]));
  } finally {
    await store.close();
  }
}

test('2 workers: exact counts per key, outputs in key order, state kept across runs and restored from the changelog into an empty state dir', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const N = 900;
  await h.produce('orders', Array.from({ length: N }, (_, i) => order(i)), 3);

  const first = await h.run(topology(2));
  assert.equal(first.processors.count.processed, N);
  assert.equal(first.processors.count.deadLettered, 0);
  const outputs = await h.drain('counts.out');
  assert.equal(outputs.length, N);
  // Key ordering + state: each key's outputs count 1, 2, 3, ... in source order, and the sums follow.
  const perKey = new Map<string, Array<{ n: number; sum: number; i: number }>>();
  for (const o of outputs) {
    const v = o.value as { key: string; n: number; sum: number; i: number };
    perKey.set(v.key, [...(perKey.get(v.key) ?? []), v]);
  }
  for (const [key, list] of perKey) {
    list.sort((a, b) => a.n - b.n);
    list.forEach((v, idx) => assert.equal(v.n, idx + 1, `key ${key}`));
    assert.deepEqual(list.map((v) => v.i), [...list.map((v) => v.i)].sort((a, b) => a - b), `key ${key}: counted in source order`);
  }
  const want = expected(0, N);
  assert.deepEqual(await storeContents(h), new Map([...want].map(([k, v]) => [k, v])));

  // A second run continues from the stored state.
  await h.produce('orders', Array.from({ length: 300 }, (_, i) => order(N + i)), 4);
  await h.run(topology(2));
  const after = await storeContents(h);
  assert.deepEqual(after, expected(0, N + 300));
  assert.equal((await h.drain('counts.out')).length, 300);

  // A new machine: the state dir is gone; the store is rebuilt from its changelog, identical.
  await rm(join(h.stateDir, 'counts'), { recursive: true, force: true });
  await h.run(topology(2));
  assert.deepEqual(await storeContents(h), after);
  // ...and processing continues from it.
  await h.produce('orders', Array.from({ length: 60 }, (_, i) => order(N + 300 + i)), 1);
  await h.run(topology(3));
  assert.deepEqual(await storeContents(h), expected(0, N + 360));
});

test('a stateful processor refuses a record without a key (dead letter, non-retriable) and keeps counting the others', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('orders', [order(0), { value: { i: 1, amount: 5 } }, order(2)]);
  const summary = await h.run(topology(1));
  assert.equal(summary.processors.count.processed, 2);
  assert.equal(summary.processors.count.deadLettered, 1);
  assert.equal(summary.processors.count.retries, 0);
  const dlq = await h.drainEntries('orders.dlq');
  assert.equal(dlq.length, 1);
  assert.match(dlq[0]!, /has no key/);
  assert.deepEqual(await storeContents(h), new Map([['cust-0', { n: 1, sum: 1 }], ['cust-2', { n: 1, sum: 3 }]]));
});

test('without a journal a stateful run keeps no applied record ids (nothing would ever trim them): counts exact, the store\'s id set empty', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const n = 600;
  await h.produce('orders', Array.from({ length: n }, (_, i) => order(i)), 10);
  const summary = await h.run(topology(2), { journal: false });
  assert.equal(summary.processors.count!.processed, n);
  const contents = await storeContents(h);
  for (const [key, want] of expected(0, n)) assert.deepEqual(contents.get(key), want, key);
  const store = await KeyValueStore.open({ dir: storeDir(h.stateDir, 'counts', 'totals'), name: 'totals' });
  try {
    assert.equal(store.stats().appliedIds, 0, 'record ids are exactly-once bookkeeping for journaled entries only');
  } finally {
    await store.close();
  }
});
