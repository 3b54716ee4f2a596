import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METRICS, followsNamingConvention, type MetricSpec } from '../../src/observability/metrics/metric-names.js';
import { MetricsHub } from '../../src/observability/metrics/metrics-hub.js';
import { sampleNames } from './fixtures/prom-text.js';

const specs = Object.values(METRICS) as MetricSpec[];

test('every built-in metric follows walrus_stream_<noun>_<unit>', () => {
  for (const spec of specs) assert.ok(followsNamingConvention(spec.name), `${spec.name} breaks the naming convention`);
});

test('counters end in _total and nothing else does; names are unique', () => {
  for (const spec of specs) assert.equal(spec.type === 'counter', spec.name.endsWith('_total'), spec.name);
  assert.equal(new Set(specs.map((s) => s.name)).size, specs.length);
});

test('histograms have strictly increasing buckets; help text is a sentence', () => {
  for (const spec of specs) {
    assert.ok(/^[A-Z].*\.$/.test(spec.help), `${spec.name}: help should be a sentence`);
    if (spec.type !== 'histogram') continue;
    assert.ok(spec.buckets !== undefined && spec.buckets.length > 3, spec.name);
    for (let i = 1; i < spec.buckets!.length; i++) assert.ok(spec.buckets![i]! > spec.buckets![i - 1]!, spec.name);
  }
});

test('the convention checker rejects names that break it', () => {
  for (const bad of ['records_total', 'walrus_stream_total', 'walrus_stream_records', 'walrus_stream_Records_total', 'walrus_stream_records_ms']) {
    assert.equal(followsNamingConvention(bad), false, bad);
  }
});

test('process metrics are exposed under the same prefix', async () => {
  const hub = new MetricsHub();
  const names = sampleNames(await hub.metrics());
  assert.ok(names.length > 0);
  for (const name of names) assert.ok(name.startsWith('walrus_stream_'), name);
  assert.ok(names.some((n) => n.startsWith('walrus_stream_process_cpu')));
});

test('docs/observability.md lists every built-in metric with its labels', async () => {
  const { readFile } = await import('node:fs/promises');
  const doc = await readFile(new URL('../../docs/observability.md', import.meta.url), 'utf8');
  for (const spec of specs) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${spec.name}\` |`));
    assert.ok(row, `${spec.name} is missing from the metrics table in docs/observability.md`);
    assert.ok(row.includes(`| ${spec.type} |`), `${spec.name}: type ${spec.type} not in its row`);
    for (const label of spec.labels) assert.ok(row.includes(`\`${label}\``), `${spec.name}: label ${label} not in its row`);
  }
});
