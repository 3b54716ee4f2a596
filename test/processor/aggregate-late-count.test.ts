import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsHub, parsePrometheusText } from '../../src/observability/index.js';
import { harness } from '../runtime/harness.js';

// A windowed aggregate: step with `late: drop` or a late output counts its late records in a metric. Before, a
// dropped late record was visible nowhere: one more of the step's `dropped`, which also counts every record that
// just updated an open window. One record from the year 3000 among normal ones is the case that matters: it moves
// stream time there (as in Kafka Streams) and every later record of the key is late.

test('aggregate: late records dropped or sent to the late output are counted per step in aggregate_late_records', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const base = 1_700_000_040_000; // on a minute boundary
  const ts = (ms: number) => ({ ts: ms });
  await h.produce('readings', [
    { key: 'a', value: ts(base + 1) },
    { key: 'a', value: { ts: '3000-01-01T00:00:00Z' } }, // closes [base, base + 1m) at once
    { key: 'a', value: ts(base + 2) }, // late
    { key: 'a', value: ts(base + 3) }, // late
    { key: 'a', value: ts(base + 60_001) }, // late
  ]);
  const hub = new MetricsHub({ processMetrics: false });
  const summary = await h.run(`
app: late
stateDir: \${STATE_DIR}
sources:
  readings: { topic: readings }
stores:
  dropped: { fsync: never }
  routed: { fsync: never }
processors:
  dropped:
    input: readings
    aggregate: { store: dropped, op: count, late: drop, window: { tumbling: 1m, time: { field: ts } } }
  routed:
    input: readings
    outputs: [default, late]
    aggregate: { store: routed, op: count, late: late, window: { tumbling: 1m, time: { field: ts } } }
sinks:
  dropped: { topic: dropped.out, input: dropped }
  routed: { topic: routed.out, input: routed }
  late: { topic: routed.late, input: routed.late }
`, { metrics: hub });
  assert.equal(summary.processors.dropped!.deadLettered, 0);
  assert.equal((await h.drain('routed.late')).length, 3);
  const samples = parsePrometheusText(await hub.metrics());
  const late = (processor: string, how: string) => samples
    .filter((s) => s.name.startsWith('aggregate_late_records') && s.labels.processor === processor && s.labels.late === how)
    .reduce((n, s) => n + s.value, 0);
  assert.equal(late('dropped', 'drop'), 3);
  assert.equal(late('routed', 'output'), 3);
});
