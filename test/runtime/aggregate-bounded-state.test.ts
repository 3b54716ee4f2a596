import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { harness } from './harness.js';
import { aggregateTopology, storeEntries } from './aggregate-helpers.js';

// A windowed `aggregate:` step's store is bounded by its open windows, not by
// the keys it ever saw: a key with no window left drops its stream time once
// that is a window's size + grace behind the step's. Through 2 real workers
// and a restart: every window is still emitted once and exactly; a record of
// a forgotten key for a closed window is still late; a new key starts size +
// grace behind the step's stream time, so within the grace it counts and far
// behind it is late.

const S = 1_000;
const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const KEYS = 400;

const topology = (app: string) =>
  aggregateTopology(app, '{ store: w, op: count, window: { tumbling: 1s, grace: 2s, time: { field: ts } }, emit: close }');

const reading = (key: string, ms: number) => ({ key, value: { ts: T0 + ms } });

test('one record each for 400 keys, one a second: every window emitted once, and the store keeps only the keys still near the step\'s stream time', { timeout: 90_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const app = 'bounded';
  const input = Array.from({ length: KEYS }, (_, i) => reading(`k${i}`, i * S + 500));
  await h.produce(`${app}.readings`, input, 40);
  const summary = await h.run(topology(app));
  assert.equal(summary.processors.w!.processed, KEYS);
  assert.equal(summary.processors.w!.deadLettered, 0);

  // Stream time ends at 399.5 s: windows closing by then (end + 2 s) were emitted, each once with its one record.
  const out = (await h.drain(`${app}.out`)).map((r) => r.value as { key: string; count: number; final: boolean });
  const keys = out.map((r) => r.key);
  assert.equal(new Set(keys).size, keys.length, 'each window once');
  assert.ok(out.every((r) => r.count === 1 && r.final));
  assert.ok(keys.length >= KEYS - 3 && keys.length <= KEYS, `${keys.length} windows emitted`);

  // A key drops its stream time once the step's is size + grace (3 s) past it and it has no window left; a tick
  // that closed its last window had moved it to the step's. So two later runs whose records move stream time on
  // leave the store with the one key still in a window, where before it kept all 401 keys' stream times.
  await h.produce(`${app}.readings`, [reading('clock', 500 * S)], 1);
  await h.run(topology(app));
  await h.produce(`${app}.readings`, [reading('clock', 600 * S)], 1);
  await h.run(topology(app));
  assert.deepEqual(await storeEntries(h, app), {
    [`clock@${String(T0 + 600 * S).padStart(16, '0')}`]: { count: 1, value: 1 },
    'clock@~stream-time': T0 + 600 * S,
  });
  const closed = (await h.drain(`${app}.out`)).map((r) => r.value as { key: string; count: number });
  assert.equal(closed.length, KEYS - keys.length + 1, 'the windows still open after the first run, and clock\'s first');

  // The step's stream time is rebuilt from the store (600 s). A record of forgotten k5 for its closed window is
  // late; a new key 1 s behind (within the grace) counts; a new key 100 s behind is late.
  await h.produce(`${app}.readings`, [reading('k5', 5 * S + 700), reading('fresh', 599 * S), reading('behind', 500 * S), reading('clock', 700 * S)], 1);
  const again = await h.run(topology(app));
  assert.equal(again.processors.w!.deadLettered, 2);
  const late = (await h.drainEntries(`${app}.dlq`)).map((e) => JSON.parse(e) as { key?: string; error: { code: string } });
  assert.deepEqual(late.map((d) => [d.key, d.error.code]).sort(), [['behind', 'LATE_RECORD'], ['k5', 'LATE_RECORD']]);
  const last = (await h.drain(`${app}.out`)).map((r) => r.value as { key: string; count: number });
  assert.deepEqual(last.map((r) => [r.key, r.count]).sort(), [['clock', 1], ['fresh', 1]]);
});

test('one key whose event time moves on with every record: the index of open windows stays the size of its windows, not of its records', { timeout: 90_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const app = 'hotkey';
  const n = 20_000;
  // 10 ms apart, all inside the first hour: one window, and a new stream time for the key with every record.
  await h.produce(`${app}.readings`, Array.from({ length: n }, (_, i) => reading('hot', i * 10)), 200);
  const { topology } = await loadTopologyText(aggregateTopology(app, '{ store: w, op: count, window: { tumbling: 1h, time: { field: ts } }, emit: close }'),
    join(h.stateDir, 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address], untilIdle: true });
  const summary = await pipeline.done;
  assert.equal(summary.processors.w!.processed, n);
  // The window and the key's stream time. Each new stream time used to add an entry to the index's heap, dropped
  // only once stream time passed it (an hour of event time here): 20,000 entries for 2 open ones.
  const index = pipeline.coordinator.streamTimeIndex().w!;
  assert.equal(index.open, 2);
  assert.ok(index.heap <= 2 * index.open + 65, `${index.heap} heap entries for ${index.open} open windows and stream times`);
  assert.deepEqual(Object.keys(await storeEntries(h, app)).sort(), [`hot@${String(T0).padStart(16, '0')}`, 'hot@~stream-time']);
});
