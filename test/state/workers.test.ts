import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { KeyValueStore, WindowedAggregation, fromField, tumbling, type StateWrites } from '../../src/state/index.js';
import { tempDir } from './helpers.js';

type Reply = { id: number; state?: StateWrites[]; error?: string };

/** Two real worker threads; the store stays in this (coordinator) thread. */
function pool(size: number) {
  const workers = Array.from({ length: size }, () => new Worker(new URL('./fixtures/state-worker-entry.mjs', import.meta.url)));
  const waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  // A worker that fails to start or dies must fail the test, not leave it waiting for a reply forever.
  const failAll = (error: Error) => {
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  };
  let closing = false;
  for (const w of workers) {
    w.on('message', (r: Reply) => { waiting.get(r.id)?.resolve(r); waiting.delete(r.id); });
    w.on('error', (error) => failAll(new Error(`state worker failed: ${error.stack ?? error.message}`)));
    w.on('exit', (code) => { if (!closing) failAll(new Error(`state worker exited with code ${code}`)); });
  }
  let next = 0;
  let rr = 0;
  return {
    run(task: object): Promise<Reply> {
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        workers[rr++ % workers.length]!.postMessage({ ...task, id });
      });
    },
    close: () => {
      closing = true;
      return Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

test('count and revenue by key with 2 worker threads: exact results, keys serialised, state shipped with tasks', { timeout: 60_000 }, async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 'counts' });
  const workers = pool(2);
  t.after(async () => { await workers.close(); await store.close(); });

  const keys = 13;
  const records = Array.from({ length: 1_300 }, (_, i) => ({ key: `cust-${(i * 7) % keys}`, amount: (i % 10) + 1, id: `r${i}` }));
  // Key ordering, as the runtime's scheduler gives it: per key one record at a time, keys in parallel.
  const lanes = new Map<string, Promise<void>>();
  const commits: Promise<void>[] = [];
  const dispatch = async (r: (typeof records)[number]) => {
    const sent = store.preload(r.key);
    const reply = await workers.run({ key: r.key, amount: r.amount, state: [{ store: 'counts', entries: sent }] });
    assert.equal(reply.error, undefined);
    const writes = reply.state!.find((s) => s.store === 'counts')!.writes;
    const staged = store.stage(store.changeSetFromWire(writes, r.key, sent), [r.id]);
    // Commit later, out of order (outputs acknowledged at different times): the store orders per key.
    commits.push(new Promise<void>((res) => setTimeout(res, Math.random() * 5)).then(() => store.commit(staged)));
  };
  for (const r of records) lanes.set(r.key, (lanes.get(r.key) ?? Promise.resolve()).then(() => dispatch(r)));
  await Promise.all(lanes.values());
  await Promise.all(commits);

  for (let k = 0; k < keys; k++) {
    const mine = records.filter((r) => r.key === `cust-${k}`);
    assert.equal(store.get(`cust-${k}`), mine.length, `count of cust-${k}`);
    assert.equal(store.get(`cust-${k}@revenue`), mine.reduce((s, r) => s + r.amount, 0), `revenue of cust-${k}`);
  }
  assert.ok(records.every((r) => store.hasApplied(r.id)));

  const bad = await workers.run({ key: 'cust-1', amount: -1, state: [{ store: 'counts', entries: store.preload('cust-1') }] });
  assert.match(bad.error ?? '', /key "someone-else" is outside the record's key "cust-1"/);
  const unknown = await workers.run({ key: 'cust-1', amount: 1, state: [] });
  assert.match(unknown.error ?? '', /state store "counts" is not available to this processor/);
});

test('revenue per customer per 10 s window with 2 workers equals the sequential result', { timeout: 60_000 }, async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  interface Order { customer: string; amount: number; ts: number }
  const orders: Order[] = Array.from({ length: 600 }, (_, i) => ({ customer: `c${(i * 7) % 5}`, amount: (i % 9) + 1, ts: 1_000_000 + i * 1_000 }));
  const options = {
    windows: tumbling(10_000), graceMs: 60_000, eventTime: fromField<Order>('ts'),
    init: () => 0, aggregate: (sum: number, o: Order) => sum + o.amount,
  };

  async function run(name: string, parallel: boolean): Promise<{ closed: string[]; open: Array<[string, unknown]> }> {
    const store = await KeyValueStore.open({ dir: `${dir}/${name}`, name: 'revenue', fsync: 'never' });
    const agg = new WindowedAggregation<Order, number>(store, options);
    const closed: string[] = [];
    const apply = async (o: Order, i: number) => {
      const step = agg.process({ key: o.customer, value: o, headers: {}, timestamp: 0 }, [`r${i}`]);
      // Commit before asserting: a staged change left uncommitted would block the later changes that depend on it.
      await store.commit(step.staged);
      assert.equal(step.late, false, `order ${i} must not be late`);
      for (const w of step.closed) closed.push(`${w.key}@${w.start}=${w.value}`);
    };
    if (!parallel) {
      for (const [i, o] of orders.entries()) await apply(o, i);
    } else {
      const workers = pool(2);
      try {
        const lanes = new Map<string, Promise<void>>();
        const inFlight: Promise<void>[] = [];
        for (const [i, o] of orders.entries()) {
          const parsed = workers.run({ parse: JSON.stringify(o) });
          const lane = (lanes.get(o.customer) ?? Promise.resolve()).then(async () => {
            const reply = (await parsed) as unknown as { order: Order };
            await apply(reply.order, i);
          });
          lanes.set(o.customer, lane);
          inFlight.push(lane);
          if (inFlight.length >= 16) await inFlight.shift();
        }
        await Promise.all(inFlight);
      } finally {
        await workers.close();
      }
    }
    const open = store.range().map((e) => [e.key, e.value] as [string, unknown]).filter(([k]) => !k.startsWith('\u0000'));
    await store.close();
    return { closed: closed.sort(), open };
  }

  const sequential = await run('seq', false);
  const parallel = await run('par', true);
  assert.ok(sequential.closed.length > 250, `${sequential.closed.length} windows closed`);
  assert.deepEqual(parallel, sequential);
  // Spot-check one window by hand: c0's orders in [1,000,000, 1,010,000).
  const c0 = orders.filter((o) => o.customer === 'c0' && o.ts < 1_010_000).reduce((s, o) => s + o.amount, 0);
  assert.ok(sequential.closed.includes(`c0@1000000=${c0}`));
});
