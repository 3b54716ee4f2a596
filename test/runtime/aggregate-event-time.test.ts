import { test } from 'node:test';
import assert from 'node:assert/strict';
import { windowKey } from '../../src/state/index.js';
import { harness, type Harness } from './harness.js';
import { aggregateTopology, storeEntries } from './aggregate-helpers.js';

// Event time in windowed `aggregate:` steps, through 2 real workers: a
// record whose event time is not epoch milliseconds within the Date range
// fails alone (one non-retriable dead letter) and poisons nothing.

const H = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

const topology = (app: string, window: string) =>
  aggregateTopology(app, `{ store: w, op: count, window: ${window}, emit: close }`, '    retry: { attempts: 2, initialDelay: 10ms }\n');

interface Result { key: string; count: number; window: { start: string; end: string }; final: boolean }
interface DeadLetter { error: { code: string; message: string }; attempts: number; sourceTopic: string; key?: string }

/** [key, window start in ms after T0, count] of each result, sorted. */
async function results(h: Harness, app: string): Promise<Array<[string, number, number]>> {
  return (await h.drain(`${app}.out`))
    .map((r) => r.value as Result)
    .map((v): [string, number, number] => [v.key, Date.parse(v.window.start) - T0, v.count])
    .sort((a, b) => a[0].localeCompare(b[0]) || a[1] - b[1]);
}

const deadLetters = async (h: Harness, app: string) => (await h.drainEntries(`${app}.dlq`)).map((e) => JSON.parse(e) as DeadLetter);



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
