import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChangeSet, KeyValueStore, PreloadedState, advanceKeyTo, fromField, hopping, keyStreamTimeKey, tumbling, windowedAggregate, windowKey,
} from '../../src/state/index.js';
import { tempDir } from './helpers.js';

// advanceKeyTo: a key's stream time moved on without a record of the key
// (the runtime's "tick" for a key that went quiet). It closes exactly the
// windows with end + grace <= the new stream time, never goes back, and
// makes later records of the key late for what it closed.

const M = 60_000;
const rec = (key: string, ts: number, amount: number) => ({ key, value: { ts, amount }, headers: {}, timestamp: 0 });
const sum = { init: () => 0, aggregate: (s: number, v: { amount: number }) => s + v.amount, eventTime: fromField<{ ts: number; amount: number }>('ts') };

async function openStore(t: { after: (fn: () => Promise<void>) => void }): Promise<KeyValueStore> {
  const { dir, cleanup } = await tempDir();
  const store = await KeyValueStore.open({ dir, name: 's', fsync: 'never' });
  t.after(async () => { await store.close(); await cleanup(); });
  return store;
}

test('advanceKeyTo closes a quiet key\'s tumbling windows only once stream time reaches end + grace', async (t) => {
  const store = await openStore(t);
  const windows = tumbling(M);
  for (const [ts, amount] of [[1_000, 2], [30_000, 3], [M + 5_000, 7]]) {
    const cs = store.changeSet('a');
    windowedAggregate(cs, rec('a', ts!, amount!), { windows, graceMs: 10_000, ...sum });
    await store.commit(cs);
  }
  // [0, 1m) closes at 1m + 10 s; [1m, 2m) at 2m + 10 s.
  let cs = store.changeSet('a');
  assert.deepEqual(advanceKeyTo(cs, 'a', M + 9_999, { windows, graceMs: 10_000 }).closed, [], 'one ms before end + grace: nothing closes');
  await store.commit(cs);
  assert.equal(store.get(keyStreamTimeKey('a')), M + 9_999, 'the key\'s stream time moved anyway');

  cs = store.changeSet('a');
  const step = advanceKeyTo<number>(cs, 'a', M + 10_000, { windows, graceMs: 10_000 });
  assert.deepEqual(step, { closed: [{ key: 'a', start: 0, end: M, value: 5, final: true }], streamTime: M + 10_000 });
  await store.commit(cs);
  assert.equal(store.get(windowKey('a', 0)), undefined, 'the closed window is deleted');
  assert.equal(store.get(windowKey('a', M)), 7, 'the next window stays open');

  // Never back: an older time changes nothing and reports the key's stream time.
  cs = store.changeSet('a');
  assert.deepEqual(advanceKeyTo(cs, 'a', 5, { windows, graceMs: 10_000 }), { closed: [], streamTime: M + 10_000 });
  assert.deepEqual(cs.toWire(), [], 'no write at all');

  // A record of the closed window is now late; one of the open window still counts.
  cs = store.changeSet('a');
  const late = windowedAggregate(cs, rec('a', 59_000, 100), { windows, graceMs: 10_000, ...sum });
  assert.equal(late.late, true);
  const onTime = windowedAggregate(cs, rec('a', 2 * M - 1, 1), { windows, graceMs: 10_000, ...sum });
  assert.equal(onTime.late, false);
  await store.commit(cs);
  assert.equal(store.get(windowKey('a', M)), 8);

  // Far ahead: closes everything left, oldest first; other keys are untouched.
  const b = store.changeSet('b');
  windowedAggregate(b, rec('b', 10, 4), { windows, ...sum });
  await store.commit(b);
  cs = store.changeSet('a');
  assert.deepEqual(advanceKeyTo<number>(cs, 'a', 10 * M, { windows, graceMs: 10_000 }).closed.map((w) => [w.start, w.value]), [[M, 8]]);
  await store.commit(cs);
  assert.equal(store.get(windowKey('b', 0)), 4);
});

test('advanceKeyTo on hopping windows closes each overlapping window at its own end + grace', async (t) => {
  const store = await openStore(t);
  const windows = hopping(M, 20_000);
  const cs0 = store.changeSet('h');
  // 50 s falls in [0, 60 s), [20 s, 80 s), [40 s, 100 s).
  windowedAggregate(cs0, rec('h', 50_000, 1), { windows, graceMs: 5_000, ...sum });
  await store.commit(cs0);
  const closeAt = async (ms: number) => {
    const cs = store.changeSet('h');
    const got = advanceKeyTo<number>(cs, 'h', ms, { windows, graceMs: 5_000 }).closed.map((w) => [w.start / 1_000, w.end / 1_000]);
    await store.commit(cs);
    return got;
  };
  assert.deepEqual(await closeAt(64_999), []);
  assert.deepEqual(await closeAt(65_000), [[0, 60]]);
  assert.deepEqual(await closeAt(100_000), [[20, 80]], '[40 s, 100 s) needs 105 s');
  assert.deepEqual(await closeAt(105_000), [[40, 100]]);
  assert.deepEqual(store.range({ prefix: 'h@' }).map((e) => e.key), [keyStreamTimeKey('h')]);
});

test('advanceKeyTo refuses a missing key and a stream time that is not epoch milliseconds', async (t) => {
  const store = await openStore(t);
  const cs = store.changeSet('a');
  assert.throws(() => advanceKeyTo(cs, '', 1, { windows: tumbling(M) }), /needs one/);
  assert.throws(() => advanceKeyTo(cs, 'a', 1.5, { windows: tumbling(M) }), /epoch milliseconds/);
  assert.throws(() => advanceKeyTo(cs, 'a', 1, { windows: tumbling(M), graceMs: -1 }), /graceMs/);
});

test('a record that moves stream time lists and decodes only the windows it closes, not every open window of the key (worker side, from a preload)', async (t) => {
  const store = await openStore(t);
  const windows = tumbling(M);
  // Minutes 0..29 of key a under a 25-minute grace: 0..3 closed on the way, 4..29 open.
  for (let i = 0; i < 30; i++) {
    const cs = store.changeSet('a');
    windowedAggregate(cs, rec('a', i * M + 1_000, 1), { windows, graceMs: 25 * M, ...sum });
    await store.commit(cs);
  }
  // As in a worker: the key's entries arrive as a preload (here in reverse order: PreloadedState sorts what is not sorted).
  const preload = [...store.preload('a')].reverse();
  const base = new PreloadedState(preload);
  const ranges: Array<{ opts: unknown; keys: string[] }> = [];
  const reader = {
    getBytes: (k: string) => base.getBytes(k),
    rangeBytes: (opts: Parameters<PreloadedState['rangeBytes']>[0]) => {
      const rows = base.rangeBytes(opts);
      ranges.push({ opts, keys: rows.map(([k]) => k) });
      return rows;
    },
  };
  const view = new ChangeSet('s', reader, 'a');
  assert.equal(preload.filter(([k]) => k !== keyStreamTimeKey('a')).length, 26);
  // Stream time 29m+1s → 31m: windows starting at or before 31m - 25m - 1m = 5m close (minutes 4 and 5).
  const step = windowedAggregate(view, rec('a', 31 * M, 1), { windows, graceMs: 25 * M, ...sum });
  assert.deepEqual(step.closed.map((w) => [w.start / M, w.value]), [[4, 1], [5, 1]]);
  assert.equal(ranges.length, 1);
  assert.deepEqual(ranges[0]!.keys, [4, 5].map((m) => windowKey('a', m * M)), 'only the closing windows were listed (not the 24 still open, nor the stream time)');
  assert.deepEqual(base.rangeBytes({ prefix: 'a@' }).map(([k]) => k), [...preload].reverse().map(([k]) => k).filter((k) => k.startsWith('a@')), 'a full range is in key order');
});
