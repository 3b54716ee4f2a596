import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KeyValueStore, KeyedAggregation, WindowedAggregation, aggregate, count, reduce,
  fromField, fromHeader, fromRecordTimestamp, hopping, tumbling, windowsFor, windowKey, parseWindowKey, routeWindowStep,
  type WindowResult,
} from '../../src/state/index.js';
import { tempDir } from './helpers.js';

const rec = <V>(key: string, value: V, headers: Record<string, string> = {}) => ({ key, value, headers, timestamp: 0 });

test('count, reduce and aggregate over a scoped view give exact per-key results', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 's' });
  t.after(() => store.close());
  const input: Array<[string, number]> = [['a', 5], ['b', 1], ['a', 7], ['c', 2], ['a', 1], ['b', 9]];
  for (const [key, amount] of input) {
    const cs = store.changeSet(key);
    count(cs, key);
    reduce(cs, `${key}@max`, amount, Math.max);
    aggregate(cs, `${key}@stats`, amount, () => ({ sum: 0, n: 0 }), (acc, v) => ({ sum: acc.sum + v, n: acc.n + 1 }));
    await store.commit(cs);
  }
  assert.deepEqual(Object.fromEntries(store.range().map((e) => [e.key, e.value])), {
    a: 3, 'a@max': 7, 'a@stats': { sum: 13, n: 3 },
    b: 2, 'b@max': 9, 'b@stats': { sum: 10, n: 2 },
    c: 1, 'c@max': 2, 'c@stats': { sum: 2, n: 1 },
  });
});

test('KeyedAggregation count/reduce stage per key and refuse records without a key', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const counts = await KeyValueStore.open({ dir: `${dir}/c`, name: 'c' });
  const maxes = await KeyValueStore.open({ dir: `${dir}/m`, name: 'm' });
  t.after(async () => { await counts.close(); await maxes.close(); });
  const counter = KeyedAggregation.count<number>(counts);
  const maxer = KeyedAggregation.reduce<number>(maxes, Math.max);
  const seen: number[] = [];
  for (const [key, v] of [['x', 3], ['y', 8], ['x', 10], ['x', 4]] as const) {
    const c = counter.process({ key, value: v });
    const m = maxer.process({ key, value: v });
    seen.push(c.value);
    await Promise.all([counts.commit(c.staged), maxes.commit(m.staged)]);
  }
  assert.deepEqual(seen, [1, 1, 2, 3]);
  assert.equal(counts.get('x'), 3);
  assert.equal(maxes.get('x'), 10);
  assert.equal(maxes.get('y'), 8);
  assert.throws(() => counter.process({ value: 1 }), /needs a record key/);
});

test('window assignment: tumbling, hopping, epoch-aligned, none before 0', () => {
  assert.deepEqual(windowsFor(tumbling(60_000), 61_000), [{ start: 60_000, end: 120_000 }]);
  assert.deepEqual(windowsFor(hopping(30, 10), 25), [{ start: 0, end: 30 }, { start: 10, end: 40 }, { start: 20, end: 50 }]);
  assert.deepEqual(windowsFor(hopping(30, 10), 5), [{ start: 0, end: 30 }]);
  assert.throws(() => hopping(10, 20), /must not exceed its size/);
  assert.throws(() => tumbling(0), /positive whole number/);
  const k = windowKey('cust@1', 1234);
  assert.equal(k, 'cust@1@0000000000001234');
  assert.deepEqual(parseWindowKey(k), { key: 'cust@1', start: 1234 });
  assert.equal(parseWindowKey('cust@1'), undefined);
});

test('event time from a field, a header or the record timestamp; bad values are specific errors', () => {
  assert.equal(fromField<{ o: { at: string } }>('o.at')(rec('k', { o: { at: '1970-01-01T00:00:01.500Z' } })), 1500);
  assert.equal(fromField<{ ts: number }>('ts')(rec('k', { ts: 42 })), 42);
  assert.equal(fromHeader('x-time')(rec('k', null, { 'x-time': '99' })), 99);
  assert.equal(fromRecordTimestamp()({ value: 1, headers: {}, timestamp: 7 }), 7);
  assert.throws(() => fromField('ts')(rec('k', { ts: 'soon' })), /cannot read an event time from the field "ts": got "soon"/);
  assert.throws(() => fromHeader('x-time')(rec('k', null)), /header "x-time"/);
});

interface Order { customer: string; amount: number; ts: number }

/** Revenue per customer per minute, the example's stateful step. */
async function runRevenue(dir: string, orders: Order[], opts: { graceMs: number; emitOnUpdate?: boolean; restartAt?: number }) {
  let store = await KeyValueStore.open({ dir, name: 'revenue' });
  const make = (s: KeyValueStore) => new WindowedAggregation<Order, number>(s, {
    windows: tumbling(60_000), graceMs: opts.graceMs, eventTime: fromField('ts'),
    init: () => 0, aggregate: (sum, o) => sum + o.amount, emitOnUpdate: opts.emitOnUpdate,
  });
  let agg = make(store);
  const closed: Array<WindowResult<number>> = [];
  const updates: Array<WindowResult<number>> = [];
  const late: Order[] = [];
  for (const [i, order] of orders.entries()) {
    if (i === opts.restartAt) {
      await store.close();
      store = await KeyValueStore.open({ dir, name: 'revenue' });
      agg = make(store);
    }
    const step = agg.process({ key: order.customer, value: order, headers: {}, timestamp: 0 }, [`r${i}`]);
    closed.push(...step.closed);
    updates.push(...step.updates);
    if (step.late) late.push(order);
    await store.commit(step.staged);
  }
  const open = agg.openWindows;
  await store.close();
  return { closed, updates, late, open };
}

const MIN = 60_000;
const ORDERS: Order[] = [
  { customer: 'alice', amount: 10, ts: 1_000 },
  { customer: 'bob', amount: 5, ts: 2_000 },
  { customer: 'alice', amount: 7, ts: 59_999 },
  { customer: 'bob', amount: 1, ts: MIN + 1 },      // window 0 ends at 60s, grace 5s: still open
  { customer: 'alice', amount: 3, ts: 4_000 },      // in grace: counted in window 0
  { customer: 'carol', amount: 2, ts: MIN + 5_000 },// stream time 65s: window 0 closes
  { customer: 'alice', amount: 100, ts: 30_000 },   // late: window 0 closed
  { customer: 'alice', amount: 1, ts: 2 * MIN + 5_000 }, // closes window 1
];

test('tumbling windows with grace: exact results on close, late records reported', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const r = await runRevenue(dir, ORDERS, { graceMs: 5_000 });
  assert.deepEqual(r.closed, [
    { key: 'alice', start: 0, end: MIN, value: 20, final: true },
    { key: 'bob', start: 0, end: MIN, value: 5, final: true },
    { key: 'bob', start: MIN, end: 2 * MIN, value: 1, final: true },
    { key: 'carol', start: MIN, end: 2 * MIN, value: 2, final: true },
  ]);
  assert.deepEqual(r.late.map((o) => o.amount), [100]);
  assert.equal(r.open, 1, 'alice window 2 still open');
  assert.deepEqual(r.updates, [], 'no update emits unless asked');
});

test('a restart in the middle gives the same window results (state, stream time and open windows are restored)', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const straight = await runRevenue(`${dir}/a`, ORDERS, { graceMs: 5_000 });
  for (const restartAt of [1, 4, 6, 7]) {
    const resumed = await runRevenue(`${dir}/r${restartAt}`, ORDERS, { graceMs: 5_000, restartAt });
    assert.deepEqual(resumed, straight, `restart before record ${restartAt}`);
  }
});

test('emitOnUpdate reports every window update; hopping windows count a record in each window', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const r = await runRevenue(dir, ORDERS.slice(0, 3), { graceMs: 0, emitOnUpdate: true });
  assert.deepEqual(r.updates.map((u) => [u.key, u.value, u.final]), [['alice', 10, false], ['bob', 5, false], ['alice', 17, false]]);

  const store = await KeyValueStore.open({ dir: `${dir}/hop`, name: 'hop' });
  t.after(() => store.close());
  const agg = new WindowedAggregation<number, number>(store, {
    windows: hopping(30, 10), eventTime: (r) => r.value, init: () => 0, aggregate: (n) => n + 1,
  });
  const closed: Array<WindowResult<number>> = [];
  for (const ts of [5, 12, 25, 33, 100]) {
    const step = agg.process({ key: 'k', value: ts, headers: {}, timestamp: 0 });
    closed.push(...step.closed);
    await store.commit(step.staged);
  }
  assert.deepEqual(closed.map((w) => [w.start, w.end, w.value]), [
    [0, 30, 3], [10, 40, 3], [20, 50, 2], [30, 60, 1],
  ]);
  // Stream time 100, grace 0: every window of ts=50 ([30,60) [40,70) [50,80)) has closed.
  const late = agg.process({ key: 'k', value: 50, headers: {}, timestamp: 0 });
  assert.deepEqual([late.late, late.lateWindows], [true, 3]);
  await store.commit(late.staged);
  // ts=85 is in [60,90) and [70,100) (closed) and [80,110) (open): partly late, counted once.
  const partly = agg.process({ key: 'k', value: 85, headers: {}, timestamp: 0 });
  assert.deepEqual([partly.late, partly.lateWindows], [false, 2]);
  assert.throws(() => agg.process({ key: '', value: 1, headers: {}, timestamp: 0 }), /windows are per key and this record has none/);
  await store.commit(partly.staged);
  assert.equal(store.get(windowKey('k', 80)), 2);
  assert.equal(store.get(windowKey('k', 90)), 1);
});

test('routeWindowStep: closed windows to the output, late records to a late output, the DLQ (LATE_RECORD) or nowhere', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 'w' });
  t.after(() => store.close());
  const agg = new WindowedAggregation<{ ts: number }, number>(store, {
    windows: tumbling(10), eventTime: fromField('ts'), init: () => 0, aggregate: (n) => n + 1,
  });
  const feed = async (key: string, ts: number) => {
    const step = agg.process({ key, value: { ts }, headers: {}, timestamp: 0 });
    await store.commit(step.staged);
    return step;
  };
  await feed('a', 1);
  await feed('a', 2);
  const closing = await feed('b', 25);
  assert.deepEqual(routeWindowStep(closing, { key: 'b', value: { ts: 25 } }, { output: 'per-window' }), [
    { kind: 'emit', output: 'per-window', key: 'a', value: { key: 'a', start: 0, end: 10, value: 2, final: true } },
  ]);
  const late = await feed('a', 3);
  assert.equal(late.late, true);
  const [dlq] = routeWindowStep(late, { key: 'a', value: { ts: 3 }, eventTime: 3 });
  assert.equal(dlq!.kind, 'dead-letter');
  assert.equal(dlq!.kind === 'dead-letter' && dlq.error.code, 'LATE_RECORD');
  assert.match(dlq!.kind === 'dead-letter' ? dlq.error.message : '', /stream time 25, event time 3/);
  assert.deepEqual(routeWindowStep(late, { key: 'a', value: { ts: 3 } }, { late: { output: 'late' } }), [{ kind: 'late', output: 'late', key: 'a', value: { ts: 3 } }]);
  assert.deepEqual(routeWindowStep(late, { key: 'a', value: { ts: 3 } }, { late: 'drop' }), []);
  assert.equal(store.get(windowKey('a', 0)), undefined, 'the late record changed nothing');
});

test('advanceTo closes windows without a record (idle input, end of a bounded input) and survives a restart', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  let store = await KeyValueStore.open({ dir, name: 'adv' });
  const make = (s: KeyValueStore) => new WindowedAggregation<{ ts: number }, number>(s, {
    windows: tumbling(100), graceMs: 50, eventTime: fromField('ts'), init: () => 0, aggregate: (n) => n + 1,
  });
  let agg = make(store);
  for (const [key, ts] of [['a', 10], ['b', 20], ['a', 120]] as const) {
    await store.commit(agg.process({ key, value: { ts }, headers: {}, timestamp: 0 }).staged);
  }
  const early = agg.advanceTo(149);
  assert.deepEqual(early.closed, [], 'window [0,100) closes at 150 (end + grace)');
  await store.commit(early.staged);
  await store.close();
  store = await KeyValueStore.open({ dir, name: 'adv' });
  t.after(() => store.close());
  agg = make(store);
  assert.equal(agg.streamTime, 149);
  assert.equal(agg.openWindows, 3);
  const back = agg.advanceTo(5);
  assert.deepEqual(back.closed, []);
  assert.equal(back.streamTime, 149, 'stream time never goes back');
  await store.commit(back.staged);
  const end = agg.advanceTo(Number.MAX_SAFE_INTEGER);
  assert.deepEqual(end.closed.map((w) => [w.key, w.start, w.value]), [['a', 0, 1], ['b', 0, 1], ['a', 100, 1]]);
  await store.commit(end.staged);
  assert.equal(agg.openWindows, 0);
  assert.deepEqual(store.range({ start: '\u0001' }), []);
  assert.throws(() => agg.advanceTo(Number.NaN), /safe integer/);
});

test('WindowedAggregation maxAheadMs: a record far ahead of the clock is refused and leaves stream time alone; a bad limit is a config error', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 'ahead' });
  t.after(() => store.close());
  const now = Math.floor(Date.now() / 10_000) * 10_000;
  const agg = new WindowedAggregation<{ ts: number }, number>(store, {
    windows: tumbling(10_000), eventTime: fromField('ts'), init: () => 0, aggregate: (n) => n + 1, maxAheadMs: 60_000,
  });
  await store.commit(agg.process(rec('a', { ts: now })).staged);
  assert.throws(() => agg.process(rec('a', { ts: now + 120_000 })), /ahead of this host's clock .*more than the 60000 ms allowed \(maxAhead\)/);
  assert.equal(agg.streamTime, now, 'stream time did not move');
  const next = agg.process(rec('a', { ts: now + 1 }));
  assert.equal(next.late, false);
  assert.throws(() => new WindowedAggregation(store, { windows: tumbling(10), eventTime: fromField('ts'), init: () => 0, aggregate: (n: number) => n, maxAheadMs: -1 }), /maxAheadMs must be a whole number of milliseconds >= 0, got -1/);
});
