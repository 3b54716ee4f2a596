import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './harness.js';

// Declarative aggregate steps (no processor module) run end to end through
// the real worker pool (2 workers): a running count, a running sum of a
// dotted field, a tumbling-window sum emitted on close with late records to
// an output, and a hopping-window max emitted on every update with late
// records to the DLQ. Every result is checked exactly, in per-key order.

const topology = `
app: aggregates
stateDir: \${STATE_DIR}
workers: 2
sources:
  readings: { topic: readings }
stores:
  counts: { fsync: never }
  totals: { fsync: never }
  minute: { fsync: never }
  hop: { fsync: never }
processors:
  counts:
    input: readings
    batchSize: 4
    deadLetter: counts.dlq
    aggregate: { store: counts, op: count }
  totals:
    input: readings
    batchSize: 4
    deadLetter: totals.dlq
    aggregate: { store: totals, op: sum, field: m.amount }
  minute:
    input: readings
    batchSize: 4
    deadLetter: minute.dlq
    outputs: [default, late]
    aggregate:
      store: minute
      op: sum
      field: m.amount
      window: { tumbling: 1m, grace: 5s, time: { field: ts } }
      late: late
  hop:
    input: readings
    batchSize: 4
    deadLetter: hop.dlq
    aggregate:
      store: hop
      op: max
      field: m.amount
      window: { hopping: { size: 1m, advance: 30s }, grace: 5s, time: { field: ts } }
      emit: update
sinks:
  counts: { topic: counts.out, input: counts }
  totals: { topic: totals.out, input: totals }
  minute: { topic: minute.out, input: minute }
  minute-late: { topic: minute.late, input: minute.late }
  hop: { topic: hop.out, input: hop }
`;

const T0 = Date.parse('2026-06-01T00:00:00.000Z');
const S = 1_000;
const at = (ms: number): string => new Date(T0 + ms).toISOString();

type Reading = { ts: string; m: { amount?: number } };

/**
 * Per key a, b, c (amounts ×1, ×2, ×3), in source order; a late reading for a and b; a reading without amount for a; one without key.
 * The keys' readings are interleaved (the n-th of a, b, c, then the n+1-th), so the keys move through time together:
 * a key's first reading far behind the step's stream time would be late (docs/state.md).
 */
function input(): Array<{ key?: string; value: Reading }> {
  const perKey: Array<Array<{ key?: string; value: Reading }>> = [];
  for (const key of ['a', 'b', 'c']) {
    const k = key.charCodeAt(0) - 96;
    const out: Array<{ key?: string; value: Reading }> = [];
    perKey.push(out);
    const r = (s: number, amount: number) => out.push({ key, value: { ts: at(s * S), m: { amount: amount * k } } });
    r(1, 1); r(30, 2); r(59, 3);   // [0, 60s)
    r(61, 4);                     // [60s, 120s); [0, 60s) still within its grace
    r(50, 10);                    // on time: 61 < 60 + 5
    r(66, 5);                     // closes [0, 60s)
    if (key !== 'c') r(20, 100);  // late: every window of 20 s has closed
    r(130, 1);                    // closes [60s, 120s)
    if (key === 'a') out.push({ key, value: { ts: at(131 * S), m: {} } }); // no amount
  }
  const out = Array.from({ length: Math.max(...perKey.map((p) => p.length)) }, (_, i) => perKey.flatMap((p) => p.slice(i, i + 1))).flat();
  out.push({ value: { ts: at(10 * S), m: { amount: 1 } } }); // no key
  return out;
}

interface Result { key: string; op: string; field: string | null; value: number; count: number; window: { start: string; end: string } | null; final: boolean }

/** A window's result as [start s, end s, value, count, final]. */
const short = (r: Result) => [r.window === null ? null : (Date.parse(r.window.start) - T0) / S, r.window === null ? null : (Date.parse(r.window.end) - T0) / S, r.value, r.count, r.final];

function byKey(records: Array<{ key?: string; value: unknown }>): Record<string, Result[]> {
  const out: Record<string, Result[]> = {};
  for (const r of records) {
    const v = r.value as Result;
    assert.equal(r.key, v.key, 'results are keyed by the aggregate key');
    (out[v.key] ??= []).push(v);
  }
  return out;
}

test('aggregate steps through 2 workers: count, sum, tumbling on close with a late output, hopping on update with late records dead-lettered', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('readings', input(), 3);
  const summary = await h.run(topology);

  // counts: every keyed record, late ones and the one without an amount included.
  const counts = byKey(await h.drain('counts.out'));
  assert.deepEqual(Object.keys(counts).sort(), ['a', 'b', 'c']);
  assert.deepEqual(counts.a!.map((r) => r.value), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(counts.b!.map((r) => r.value), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(counts.c!.map((r) => r.value), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(counts.a![8], { key: 'a', op: 'count', field: null, value: 9, count: 9, window: null, final: false });

  // totals: a running sum per key of m.amount, on every record.
  const totals = byKey(await h.drain('totals.out'));
  assert.deepEqual(totals.a!.map((r) => r.value), [1, 3, 6, 10, 20, 25, 125, 126]);
  assert.deepEqual(totals.b!.map((r) => r.value), [2, 6, 12, 20, 40, 50, 250, 252]);
  assert.deepEqual(totals.c!.map((r) => r.value), [3, 9, 18, 30, 60, 75, 78]);
  assert.deepEqual(totals.c![6], { key: 'c', op: 'sum', field: 'm.amount', value: 78, count: 7, window: null, final: false });

  // minute: tumbling 1 min, results on close only; the last window of each key stays open.
  const minute = byKey(await h.drain('minute.out'));
  for (const [key, k] of [['a', 1], ['b', 2], ['c', 3]] as const) {
    assert.deepEqual(minute[key]!.map(short), [[0, 60, 16 * k, 4, true], [60, 120, 9 * k, 2, true]], key);
  }
  assert.deepEqual(minute.a![0], {
    key: 'a', op: 'sum', field: 'm.amount', value: 16, count: 4,
    window: { start: '2026-06-01T00:00:00.000Z', end: '2026-06-01T00:01:00.000Z' }, final: true,
  });
  const late = (await h.drain('minute.late')).map((r) => [r.key, (r.value as Reading).m.amount]);
  assert.deepEqual(late.sort(), [['a', 100], ['b', 200]]);

  // hop: hopping 1 min every 30 s, max on every update plus each window's final result when it closes.
  const hop = byKey(await h.drain('hop.out'));
  for (const [key, k] of [['a', 1], ['b', 2], ['c', 3]] as const) {
    assert.deepEqual(hop[key]!.map(short), [
      [-30, 30, 1 * k, 1, false], [0, 60, 1 * k, 1, false],        // 1 s: windows start every 30 s, aligned to the epoch
      [0, 60, 2 * k, 2, false], [30, 90, 2 * k, 1, false],         // 30 s
      [-30, 30, 1 * k, 1, true], [0, 60, 3 * k, 3, false], [30, 90, 3 * k, 2, false], // 59 s closes [-30, 30): 30 + 5 <= 59
      [30, 90, 4 * k, 3, false], [60, 120, 4 * k, 1, false],       // 61 s
      [0, 60, 10 * k, 4, false], [30, 90, 10 * k, 4, false],       // 50 s, within grace
      [0, 60, 10 * k, 4, true], [30, 90, 10 * k, 5, false], [60, 120, 5 * k, 2, false], // 66 s closes [0, 60)
      [30, 90, 10 * k, 5, true], [60, 120, 5 * k, 2, true], [90, 150, 1 * k, 1, false], [120, 180, 1 * k, 1, false], // 130 s
    ], key);
  }

  // Dead letters: the record without a key everywhere; the one without an amount where a field is read; late ones in hop.
  const reasons = async (topic: string) => (await h.drainEntries(topic)).map((e) => (/NON_RETRIABLE|LATE_RECORD/.exec(e)?.[0] ?? e));
  assert.deepEqual(await reasons('counts.dlq'), ['NON_RETRIABLE']);
  assert.deepEqual(await reasons('totals.dlq'), ['NON_RETRIABLE', 'NON_RETRIABLE']);
  assert.deepEqual(await reasons('minute.dlq'), ['NON_RETRIABLE', 'NON_RETRIABLE']);
  assert.deepEqual((await reasons('hop.dlq')).sort(), ['LATE_RECORD', 'LATE_RECORD', 'NON_RETRIABLE', 'NON_RETRIABLE']);
  assert.deepEqual(
    Object.fromEntries(Object.entries(summary.processors).map(([name, p]) => [name, [p.deadLettered, p.retries]])),
    { counts: [1, 0], totals: [2, 0], minute: [2, 0], hop: [4, 0] },
  );
});
