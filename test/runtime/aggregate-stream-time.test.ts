import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { harness, type Harness } from './harness.js';
import { aggregateTopology, storeEntries } from './aggregate-helpers.js';

// Windowed aggregate steps close windows on the stream time of the whole
// step (all keys), not only on a later record of the same key: a key that
// goes quiet gets its windows closed by a stream-time tick once other keys
// move stream time past end + grace. Through 2 real workers, `--until-idle`
// semantics (h.run), across a restart where the tick had not run, and a
// record of a quiet key that a tick made late.

const M = 60_000;
const S = 1_000;
const T0 = Date.parse('2026-06-01T00:00:00.000Z');

const topology = (app: string, window: string) =>
  aggregateTopology(app, `{ store: w, op: sum, field: amount, window: ${window}, emit: close }`, '    batchSize: 4\n');

interface Result { key: string; value: number; count: number; window: { start: string; end: string }; final: boolean }
/** [key, start s, end s, value, count] of each (final) result, sorted. */
async function results(h: Harness, app: string): Promise<Array<[string, number, number, number, number]>> {
  const out = (await h.drain(`${app}.out`)).map((r) => {
    const v = r.value as Result;
    assert.equal(v.final, true, 'emit: close only emits final results');
    assert.equal(r.key, v.key);
    return [v.key, (Date.parse(v.window.start) - T0) / S, (Date.parse(v.window.end) - T0) / S, v.value, v.count] as [string, number, number, number, number];
  });
  return out.sort((a, b) => a[0].localeCompare(b[0]) || a[1] - b[1]);
}

const reading = (key: string, ms: number, amount: number) => ({ key, value: { ts: T0 + ms, amount } });
const wkey = (key: string, ms: number) => `${key}@${String(T0 + ms).padStart(16, '0')}`;

test('a quiet key\'s tumbling window closes on the stream time other keys move on: emitted once, exact, before --until-idle ends', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const app = 'quiet';
  // A only in minute 0; B moves through minutes 0..5 (several records each).
  const input = [reading('A', 5 * S, 1), reading('A', 20 * S, 2), reading('B', 10 * S, 10), reading('A', 59 * S, 4)];
  for (let m = 1; m <= 5; m++) input.push(reading('B', m * M + 1 * S, m), reading('B', m * M + 30 * S, 100 * m));
  await h.produce(`${app}.readings`, input, 2);
  const summary = await h.run(topology(app, '{ tumbling: 1m, time: { field: ts } }'));

  assert.deepEqual(await results(h, app), [
    ['A', 0, 60, 7, 3],                               // closed by a tick: A never had a record after minute 0
    ['B', 0, 60, 10, 1], ['B', 60, 120, 101, 2], ['B', 120, 180, 202, 2], ['B', 180, 240, 303, 2], ['B', 240, 300, 404, 2],
  ]);
  assert.equal(summary.processors.w!.processed, input.length, 'ticks are not counted as processed records');
  assert.equal(summary.processors.w!.deadLettered, 0);
  assert.equal(summary.inFlight, 0);
  // A has no window left and its stream time (the step's when the tick came) fell a window's size + grace
  // behind the step's: it was dropped, so the store holds open windows, not every key ever seen.
  assert.deepEqual(await storeEntries(h, app), {
    [wkey('B', 5 * M)]: { count: 2, value: 505 },   // B's last window stays open: stream time has not passed it
    'B@~stream-time': T0 + 5 * M + 30 * S,
  });

  // A record of A's closed minute is still late (DLQ): a key without a stream time starts size + grace behind the step's.
  await h.produce(`${app}.readings`, [reading('A', 40 * S, 50)], 1);
  const again = await h.run(topology(app, '{ tumbling: 1m, time: { field: ts } }'));
  assert.equal(again.processors.w!.deadLettered, 1);
  assert.match((await h.drainEntries(`${app}.dlq`)).join('\n'), /LATE_RECORD/);
  assert.deepEqual(await results(h, app), []);
});

test('hopping windows of a quiet key close only once the step\'s stream time reaches end + grace; a restart finds what is due in the store', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const app = 'hop';
  const yaml = topology(app, '{ hopping: { size: 1m, advance: 30s }, grace: 20s, time: { field: ts } }');
  // A at 10 s: windows [-30 s, 30 s) (closes at 50 s) and [0, 60 s) (closes at 80 s).
  // B ends at 79.999 s: the first is due, the second one ms short of it.
  await h.produce(`${app}.readings`, [reading('A', 10 * S, 3), reading('B', 45 * S, 1), reading('B', 80 * S - 1, 2)], 1);
  await h.run(yaml);
  assert.deepEqual((await results(h, app)).filter((r) => r[0] === 'A'), [['A', -30, 30, 3, 1]]);
  const state = await storeEntries(h, app);
  assert.deepEqual(state[wkey('A', 0)], { count: 1, value: 3 }, 'A\'s [0, 60 s) is still open at stream time 79.999 s (grace 20 s)');
  assert.equal(state['A@~stream-time'], T0 + 80 * S - 1);

  // The stream time moves to exactly 80 s in the next run: A's [0, 60 s) closes.
  await h.produce(`${app}.readings`, [reading('B', 80 * S, 4)], 1);
  await h.run(yaml);
  assert.deepEqual((await results(h, app)).filter((r) => r[0] === 'A'), [['A', 0, 60, 3, 1]]);

  // Stopped after stream time advanced but before a tick ran: the store holds the advance
  // (B's stream time at 3 min, as its committed record left it) and A's open window.
  // The next start rebuilds the step's stream time from the store and closes A's window.
  await h.produce(`${app}.readings`, [reading('A', 100 * S, 5)], 1);
  await h.run(yaml);
  const store = await KeyValueStore.open({ dir: storeDir(h.stateDir, app, 'w'), name: 'w' });
  const cs = store.changeSet('B');
  cs.put('B@~stream-time', T0 + 3 * M);
  await store.commit(cs);
  await store.close();
  await h.drain(`${app}.out`);
  await h.run(yaml);
  assert.deepEqual((await results(h, app)).filter((r) => r[0] === 'A'), [['A', 60, 120, 5, 1], ['A', 90, 150, 5, 1]]);
  const after = await storeEntries(h, app);
  assert.deepEqual(Object.keys(after).filter((k) => k.startsWith('A@')), ['A@~stream-time']);
  assert.equal(after['A@~stream-time'], T0 + 3 * M);
});
