import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './harness.js';

const topology = (late: 'output' | 'dlq') => `
app: windows
stateDir: \${STATE_DIR}
workers: 2
sources:
  readings: { topic: readings }
processors:
  sum:
    module: ./state-windows.ts
    input: readings
    ordering: key
    stores: [sums]
    outputs: [default, late]
    batchSize: 4
    config: { late: ${late} }
sinks:
  windows: { topic: windows.out, input: sum.default }
  late: { topic: windows.late, input: sum.late }
stores:
  sums: { fsync: never }
`;

const S = 1_000;
/** Per key (a, b, c): readings in source order; one late reading for a and b. */
function input(): Array<{ key: string; value: { ts: number; amount: number } }> {
  const out: Array<{ key: string; value: { ts: number; amount: number } }> = [];
  for (const key of ['a', 'b', 'c']) {
    const k = key.charCodeAt(0) - 96; // 1, 2, 3
    const r = (ts: number, amount: number) => out.push({ key, value: { ts, amount: amount * k } });
    r(1 * S, 1); r(30 * S, 2); r(59 * S, 3);   // window [0, 60s): 6k
    r(61 * S, 4);                             // [60s, 120s); stream time 61 s: [0, 60s) still in grace
    r(50 * S, 10);                            // on time (61 < 60 + 5): [0, 60s) = 16k
    r(66 * S, 5);                             // closes [0, 60s) → 16k; [60s, 120s) = 9k
    if (key !== 'c') r(20 * S, 100);          // late: [0, 60s) closed
    r(130 * S, 1);                            // closes [60s, 120s) → 9k
  }
  return out;
}

test('per-key tumbling windows with grace under 2 workers: exact closed windows, late records to the late output', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('readings', input(), 2);
  const summary = await h.run(topology('output'));
  assert.equal(summary.processors.sum.deadLettered, 0);
  const windows = (await h.drain('windows.out')).map((r) => r.value as { key: string; start: number; value: number; final: boolean });
  windows.sort((x, y) => x.key.localeCompare(y.key) || x.start - y.start);
  assert.deepEqual(windows.map((w) => [w.key, w.start, w.value, w.final]), [
    ['a', 0, 16, true], ['a', 60_000, 9, true],
    ['b', 0, 32, true], ['b', 60_000, 18, true],
    ['c', 0, 48, true], ['c', 60_000, 27, true],
  ]);
  const late = (await h.drain('windows.late')).map((r) => [r.key, (r.value as { amount: number }).amount]);
  assert.deepEqual(late.sort(), [['a', 100], ['b', 200]]);
});

test('late records to the DLQ with LATE_RECORD (not retried) when asked', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('readings', input(), 3);
  const summary = await h.run(topology('dlq'));
  assert.equal(summary.processors.sum.deadLettered, 2);
  assert.equal(summary.processors.sum.retries, 0);
  const dlq = await h.drainEntries('readings.dlq');
  assert.equal(dlq.length, 2);
  for (const entry of dlq) assert.match(entry, /LATE_RECORD/);
  assert.equal((await h.drain('windows.out')).length, 6);
});
