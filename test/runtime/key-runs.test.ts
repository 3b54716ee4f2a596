import { test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { harness } from './harness.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';

// Runs (docs/pipeline.md, "Key ordering"): in `ordering: key`, the records of
// a key waiting behind its owner go in the same batch and a worker runs them
// one after the other, each on the state the previous one left. Few keys and
// big batches make long runs; flaky records fail their first attempt in the
// middle of runs, so the records behind them are deferred and sent again.

const KEYS = 3;
const N = 1_200;
const order = (i: number) => ({ key: `k${i % KEYS}`, value: { i, amount: (i % 4) + 1, flaky: i % 29 === 5 } });

test('runs through 2 real workers: exact per-key counts in source order, a failure mid-run defers the rest of its run, the store equals one-by-one processing', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const inputs = Array.from({ length: N }, (_, i) => order(i));
  await h.produce('orders', inputs, 200);
  const summary = await h.run(`
app: runs
stateDir: \${STATE_DIR}
workers: 2
sources:
  orders: { topic: orders }
processors:
  count:
    module: ./state-count-flaky.ts
    input: orders
    ordering: key
    stores: [totals]
    batchSize: 200
    retry: { attempts: 3, initialDelay: 1ms, maxDelay: 2ms }
sinks:
  out: { topic: runs.out, input: count }
stores:
  totals: { fsync: never }
`);
  const flaky = inputs.filter((r) => r.value.flaky).length;
  assert.equal(summary.processors.count.processed, N);
  assert.equal(summary.processors.count.retries, flaky);
  assert.equal(summary.processors.count.deadLettered, 0);

  const outputs = (await h.drain('runs.out')).map((r) => r.value as { key: string; n: number; sum: number; i: number; attempt: number });
  assert.equal(outputs.length, N);
  const perKey = new Map<string, typeof outputs>();
  for (const o of outputs) perKey.set(o.key, [...(perKey.get(o.key) ?? []), o]);
  for (const [key, list] of perKey) {
    const mine = inputs.filter((r) => r.key === key);
    // In the sink's order: the running count goes 1, 2, 3... over the key's records in source order.
    if (process.env.DBG) console.log(key, JSON.stringify(list.slice(0, 12).map((o) => [o.i, o.n, o.attempt])));
    assert.deepEqual(list.map((o) => o.i), mine.map((r) => r.value.i), `key ${key}: written in source order`);
    let sum = 0;
    list.forEach((o, idx) => {
      sum += mine[idx]!.value.amount;
      assert.deepEqual([o.n, o.sum], [idx + 1, sum], `key ${key}, record ${o.i}: counted on the state its predecessor left`);
      assert.equal(o.attempt, mine[idx]!.value.flaky ? 2 : 1);
    });
  }
  const store = await KeyValueStore.open({ dir: storeDir(h.stateDir, 'runs', 'totals'), name: 'totals' });
  try {
    const want = new Map<string, { n: number; sum: number }>();
    for (const { key, value } of inputs) {
      const t0 = want.get(key) ?? { n: 0, sum: 0 };
      want.set(key, { n: t0.n + 1, sum: t0.sum + value.amount });
    }
    assert.deepEqual(new Map(store.range().map((e) => [e.key, e.value])), want);
  } finally {
    await store.close();
  }
});

test('a record that kills its worker in the middle of a run (2 workers): it is dead-lettered alone, the run\'s other records come out once, in order, with no attempt charged', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  // One key, one entry of 16: the whole batch is one run, and record 9 ends its worker thread on every attempt.
  await h.produce('in', Array.from({ length: 16 }, (_, n) => ({ key: 'a', value: n === 9 ? { n, crash: 'always' } : { n } })), 16);
  const summary = await h.run(`
app: crashrun
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: in }
processors:
  p: { module: ./crash.ts, input: in, ordering: key, batchSize: 16, retry: { attempts: 2, initialDelay: 1ms, maxDelay: 2ms }, deadLetter: in.dead }
sinks:
  out: { topic: out, input: p }
observability: { logLevel: silent }
`);
  const out = (await h.drain('out')).map((r) => r.value as { n: number; attempt: number });
  assert.deepEqual(out.map((v) => v.n), Array.from({ length: 16 }, (_, n) => n).filter((n) => n !== 9), 'every other record once, in key order');
  assert.ok(out.every((v) => v.attempt === 1), 'no neighbour was charged an attempt');
  const dead = await h.drainEntries('in.dead');
  assert.equal(dead.length, 1);
  assert.equal(summary.processors.p.deadLettered, 1);
  assert.equal(summary.inFlight, 0);
});

const busyTopology = (app: string, batchSize: number, log?: string, ordering = 'key') => `
app: ${app}
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in }
processors:
  p: { module: ./busy.ts, input: in, ordering: ${ordering}, batchSize: ${batchSize}, timeout: 100ms, retry: { attempts: 2, initialDelay: 1ms, maxDelay: 2ms }, deadLetter: in.dead${log === undefined ? '' : `, config: { log: ${JSON.stringify(log)} }`} }
sinks:
  out: { topic: out, input: p }
workerPool: { timeoutGrace: 50ms }
observability: { logLevel: silent }
`;

test('a run of slow synchronous records outlasts one record\'s deadline without its worker being terminated: the worker reports progress between records', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  // 8 records of one key, each 60 ms of synchronous work under a 100 ms timeout: the run takes ~480 ms, the
  // task deadline is 150 ms (timeout + grace) from its start or its last progress report.
  await h.produce('in', Array.from({ length: 8 }, (_, n) => ({ key: 'a', value: { n, ms: 60 } })), 8);
  const log = join(h.stateDir, 'executions.log');
  const summary = await h.run(busyTopology('slowrun', 8, log));
  const out = (await h.drain('out')).map((r) => r.value as { n: number; thread: number });
  assert.deepEqual(out.map((v) => v.n), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(new Set(out.map((v) => v.thread)).size, 1);
  // A terminated worker's batch runs again: its records that had finished would show twice here.
  assert.deepEqual((await readFile(log, 'utf8')).trim().split('\n').map(Number), [0, 1, 2, 3, 4, 5, 6, 7], 'each record ran once: the worker was never terminated');
  assert.equal(summary.processors.p.deadLettered, 0);
});

test('the same without runs: a batch of slow synchronous records of different keys (unordered) runs once, its worker never terminated', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('in', Array.from({ length: 8 }, (_, n) => ({ key: `k${n}`, value: { n, ms: 60 } })), 8);
  const log = join(h.stateDir, 'executions.log');
  await h.run(busyTopology('slowbatch', 8, log, 'unordered'));
  assert.equal((await h.drain('out')).length, 8);
  assert.deepEqual((await readFile(log, 'utf8')).trim().split('\n').map(Number).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7], 'each record ran once');
});

test('a record spinning forever in a long run ends its worker within about one record\'s deadline, not the whole run\'s; it is dead-lettered, the rest of the run comes out in order', { timeout: 20_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const n = 300;
  await h.produce('in', Array.from({ length: n }, (_, i) => ({ key: 'a', value: i === 3 ? { n: i, spin: true } : { n: i } })), n);
  const summary = await h.run(busyTopology('spinrun', n));
  const out = (await h.drain('out')).map((r) => (r.value as { n: number }).n);
  assert.deepEqual(out, Array.from({ length: n }, (_, i) => i).filter((i) => i !== 3));
  const dead = (await h.drainEntries('in.dead')).map(parseDeadLetter);
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.error.code, 'PROCESSOR_TIMEOUT', dead[0]!.error.message);
  assert.equal(summary.processors.p.deadLettered, 1);
});
