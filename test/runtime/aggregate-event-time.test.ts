import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { KeyValueStore, storeDir, windowKey } from '../../src/state/index.js';
import { MetricsHub, parsePrometheusText } from '../../src/observability/index.js';
import { harness, type Harness } from './harness.js';
import { aggregateTopology, storeEntries } from './aggregate-helpers.js';

// Event time in windowed `aggregate:` steps, through 2 real workers: a
// record whose event time is not epoch milliseconds within the Date range
// fails alone (one non-retriable dead letter) and poisons nothing; a
// stream-time tick that fails is logged and counted, never dead-lettered as
// if it were a record; a stream time outside the Date range that an earlier
// version stored does not become the step's.

const S = 1_000;
const M = 60_000;
const H = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

const topology = (app: string, window: string) =>
  aggregateTopology(app, `{ store: w, op: count, window: ${window}, emit: close }`, '    retry: { attempts: 2, initialDelay: 10ms }\n');

interface Result { key: string; count: number; window: { start: string; end: string }; final: boolean }
interface DeadLetter { error: { code: string; message: string }; attempts: number; sourceTopic: string; key?: string }
type Line = { level: number; msg: string; [field: string]: unknown };

/** [key, window start in ms after T0, count] of each result, sorted. */
async function results(h: Harness, app: string): Promise<Array<[string, number, number]>> {
  return (await h.drain(`${app}.out`))
    .map((r) => r.value as Result)
    .map((v): [string, number, number] => [v.key, Date.parse(v.window.start) - T0, v.count])
    .sort((a, b) => a[0].localeCompare(b[0]) || a[1] - b[1]);
}

const deadLetters = async (h: Harness, app: string) => (await h.drainEntries(`${app}.dlq`)).map((e) => JSON.parse(e) as DeadLetter);

async function plant(h: Harness, app: string, key: string, entries: Record<string, unknown>): Promise<void> {
  const store = await KeyValueStore.open({ dir: storeDir(h.stateDir, app, 'w'), name: 'w' });
  const cs = store.changeSet(key);
  for (const [k, v] of Object.entries(entries)) cs.put(k, v);
  await store.commit(cs);
  await store.close();
}

const capture = (lines: Line[]) => pino({ level: 'warn' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk)) as Line); done(); } }));
const reading = (key: string, ts: unknown) => ({ key, value: { ts } });

test('an event time in nanoseconds fails only its record (one non-retriable dead letter); the key and every window stay sound', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const app = 'nanos';
  // One entry: every record is queued at the step before any result comes back.
  await h.produce(`${app}.readings`, [
    reading('a', '2026-01-01T00:00:00Z'), reading('b', '2026-01-01T00:10:00Z'),
    reading('a', 1767225600000000000), // 2026-01-01T00:00:00Z in nanoseconds
    reading('a', '2026-01-01T03:00:00Z'), reading('a', '2026-01-01T04:00:00Z'),
    reading('b', '2026-01-01T03:00:00Z'), reading('c', '2026-01-01T03:00:00Z'),
  ], 7);
  const summary = await h.run(topology(app, '{ tumbling: 1h, time: { field: ts } }'));

  const dlq = await deadLetters(h, app);
  assert.equal(dlq.length, 1, JSON.stringify(dlq));
  assert.equal(dlq[0]!.error.code, 'STATE_STORE_ERROR');
  assert.match(dlq[0]!.error.message, /cannot read an event time from the field "ts": got 1767225600000000000; that is after \+275760-09-13T00:00:00\.000Z/);
  assert.equal(dlq[0]!.attempts, 1, 'not retried');
  assert.equal(dlq[0]!.sourceTopic, `${app}.readings`);
  assert.equal(summary.processors.w!.retries, 0);
  // Stream time reached 04:00: every window ending by then closed, a's later records counted (not late).
  assert.deepEqual(await results(h, app), [['a', 0, 1], ['a', 3 * H, 1], ['b', 0, 1], ['b', 3 * H, 1], ['c', 3 * H, 1]]);
  assert.deepEqual(await storeEntries(h, app), {
    [windowKey('a', T0 + 4 * H)]: { count: 1, value: 1 },
    'a@~stream-time': T0 + 4 * H, 'b@~stream-time': T0 + 4 * H, 'c@~stream-time': T0 + 4 * H,
  });
});

test('a stream-time tick that fails is logged and counted, not dead-lettered; other keys\' windows still close', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const app = 'tickfail';
  const yaml = topology(app, '{ tumbling: 1m, time: { field: ts } }');
  await h.produce(`${app}.readings`, [reading('A', T0 + 10 * S), reading('B', T0 + 20 * S)], 2);
  await h.run(yaml);
  // A's open window holds what the built-in step cannot read: its tick will throw (a TypeError, retried, then failed for good).
  await plant(h, app, 'A', { [windowKey('A', T0)]: null });

  await h.produce(`${app}.readings`, [reading('B', T0 + 2 * M)], 1);
  const lines: Line[] = [];
  const hub = new MetricsHub({ processMetrics: false });
  const summary = await h.run(yaml, { logger: capture(lines), metrics: hub });

  assert.deepEqual(await deadLetters(h, app), [], 'nothing in the DLQ');
  assert.equal(summary.processors.w!.deadLettered, 0);
  assert.equal(summary.inFlight, 0);
  assert.deepEqual(await results(h, app), [['B', 0, 1]]);
  const failed = lines.filter((l) => /stream-time tick failed/.test(l.msg));
  assert.equal(failed.length, 1, JSON.stringify(lines));
  assert.equal(failed[0]!.key, 'A');
  assert.equal(failed[0]!.code, 'PROCESSOR_ERROR');
  const errors = parsePrometheusText(await hub.metrics()).filter((s) => s.name === 'walrus_stream_errors_total' && s.labels.component === 'stream-time');
  assert.deepEqual(errors.map((s) => [s.labels.code, s.value]), [['PROCESSOR_ERROR', 1]]);
});

test('a stream time after the Date range left in the store by an earlier version is ignored: other keys\' windows close on time, the key\'s records are late', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const app = 'legacy';
  const yaml = topology(app, '{ tumbling: 1m, time: { field: ts } }');
  await h.produce(`${app}.readings`, [reading('A', T0 + 10 * S)], 1);
  await h.run(yaml);
  // What an earlier version wrote for a record with ts in nanoseconds.
  await plant(h, app, 'Z', { 'Z@~stream-time': 1767225600000000000, 'Z@1767225600000000000': { count: 1, value: 1 } });

  await h.produce(`${app}.readings`, [reading('B', T0 + 30 * S), reading('Z', T0 + 40 * S)], 1);
  const lines: Line[] = [];
  const summary = await h.run(yaml, { logger: capture(lines) });
  assert.equal(summary.processors.w!.retries, 0);
  assert.deepEqual(await results(h, app), [], 'the step\'s stream time is 40 s: no window has closed');
  const dlq = await deadLetters(h, app);
  assert.deepEqual(dlq.map((d) => [d.key, d.error.code]), [['Z', 'LATE_RECORD']]);
  assert.match(dlq[0]!.error.message, /key stream time 1767225600000000000 ms/);
  assert.ok(lines.some((l) => l.key === 'Z@~stream-time' && /after the latest date there is; the step's stream time ignores it/.test(l.msg)), JSON.stringify(lines));

  await h.produce(`${app}.readings`, [reading('B', T0 + 60 * S)], 1);
  await h.run(yaml);
  assert.deepEqual(await results(h, app), [['A', 0, 1], ['B', 0, 1]]);
});
