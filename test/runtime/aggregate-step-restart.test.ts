import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRecords } from '../../src/codec/index.js';
import { harness, type Harness } from './harness.js';

// An aggregate step's state outlives the pipeline: a second run on the same
// state dir continues the running count and closes windows that hold
// records of the first run. Event time comes from a header here; late
// records are dropped (`late: drop`), so nothing reaches the DLQ.

const topology = `
app: restart
stateDir: \${STATE_DIR}
workers: 2
sources:
  events: { topic: events }
stores:
  avg: {}
  seen: { fsync: never }
processors:
  avg:
    input: events
    aggregate:
      store: avg
      op: avg
      field: price
      window: { tumbling: 1m, time: { header: x-ts } }
      late: drop
  seen:
    input: events
    aggregate: { store: seen, op: count }
sinks:
  avg: { topic: avg.out, input: avg }
  seen: { topic: seen.out, input: seen }
`;

const T0 = Date.parse('2026-06-01T12:00:00.000Z');
const S = 1_000;

async function produce(h: Harness, events: Array<[key: string, second: number, price: number, iso?: boolean]>): Promise<void> {
  await h.client.register('events');
  await h.client.putMany('events', events.map(([key, second, price, iso]) => encodeRecords([{
    key, value: Buffer.from(JSON.stringify({ price })),
    headers: { 'x-ts': iso ? new Date(T0 + second * S).toISOString() : String(T0 + second * S) },
  }])));
}

const values = async (h: Harness, topic: string) => (await h.drain(topic)).map((r) => r.value as { key: string; value: number; count: number; window: { start: string } | null; final: boolean });

test('aggregate state survives a restart: the count goes on and a window holding both runs\' records closes with their average', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());

  await produce(h, [['x', 5, 10], ['y', 40, 7], ['x', 20, 20, true], ['y', 45, 8]]);
  const first = await h.run(topology);
  assert.equal(first.processors.avg!.processed, 4);
  assert.deepEqual(await values(h, 'avg.out'), [], 'no window closed yet (emit: close)');
  const seen1 = await values(h, 'seen.out');
  assert.deepEqual(seen1.filter((r) => r.key === 'x').map((r) => r.value), [1, 2]);
  assert.deepEqual(seen1.filter((r) => r.key === 'y').map((r) => r.value), [1, 2]);

  // Second run, same state dir: the stores are opened from it.
  await produce(h, [['x', 50, 30], ['y', 59, 9], ['x', 61, 1], ['y', 60, 2, true], ['x', 10, 99]]);
  const second = await h.run(topology);
  assert.equal(second.processors.avg!.deadLettered, 0);
  const closed = (await values(h, 'avg.out')).sort((a, b) => a.key.localeCompare(b.key));
  assert.deepEqual(closed, [
    { key: 'x', op: 'avg', field: 'price', value: 20, count: 3, window: { start: '2026-06-01T12:00:00.000Z', end: '2026-06-01T12:01:00.000Z' }, final: true },
    { key: 'y', op: 'avg', field: 'price', value: 8, count: 3, window: { start: '2026-06-01T12:00:00.000Z', end: '2026-06-01T12:01:00.000Z' }, final: true },
  ]);
  const seen2 = await values(h, 'seen.out');
  // The late x at 10 s was dropped by avg but counted by seen.
  assert.deepEqual(seen2.filter((r) => r.key === 'x').map((r) => r.value), [3, 4, 5]);
  assert.deepEqual(seen2.filter((r) => r.key === 'y').map((r) => r.value), [3, 4]);
  assert.deepEqual(await h.drainEntries('events.dlq'), []);
});
