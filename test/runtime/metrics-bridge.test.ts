import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsHub } from '../../src/observability/index.js';
import { bridgeMetrics } from '../../src/runtime/metrics-bridge.js';
import { PipelineStats } from '../../src/runtime/pipeline-stats.js';

test('the coordinator counters reach the Prometheus registry as deltas at scrape time', async () => {
  const stats = new PipelineStats();
  const hub = new MetricsHub();
  bridgeMetrics(hub, () => stats.snapshot(7), 2);
  stats.source('orders', 'orders').records += 10;
  const p = stats.processor('parse');
  p.processed += 9;
  p.retries += 2;
  p.deadLettered += 1;
  stats.sink('accepted', 'orders.accepted').records += 9;
  const first = await hub.metrics();
  p.processed += 5;
  const second = await hub.metrics();
  const value = (text: string, name: string, label: string) => {
    const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(label) && !l.startsWith('#'));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };
  const name = 'walrus_stream_records_processed_total';
  assert.equal(value(first, name, 'processor="parse"'), 9);
  assert.equal(value(second, name, 'processor="parse"'), 14);
  assert.equal(value(first, 'walrus_stream_in_flight_records', ''), 7);
  assert.equal(value(first, 'walrus_stream_records_dead_lettered_total', 'processor="parse"'), 1);
});

test('processor-defined metrics from every worker are merged into the registry', async () => {
  const { WorkerPool } = await import('../../src/runtime/worker-pool.js');
  const { pullWorkerMetrics } = await import('../../src/runtime/metrics-bridge.js');
  const { fileURLToPath } = await import('node:url');
  const pool = new WorkerPool({ workers: 2 });
  try {
    const spec = {
      name: 'router', module: fileURLToPath(new URL('../fixtures/processors/router.ts', import.meta.url)), config: {},
      outputs: ['even', 'odd'], timeoutMs: 0, logLevel: 'silent',
    };
    const rec = (id: string, value: number) => ({ id, value, headers: {}, timestamp: 1, source: 'in', attempt: 1 });
    await Promise.all([pool.process(spec, [rec('1', 1), rec('2', 2)]), pool.process(spec, [rec('3', 3), rec('5', 5)])]);
    await pool.ready();
    const hub = new MetricsHub();
    await pullWorkerMetrics(hub, pool);
    const text = await hub.metrics();
    const line = (labels: string) => text.split('\n').find((l) => l.startsWith('routed') && l.includes(labels));
    assert.match(line('target="odd"') ?? '', / 3$/);
    assert.match(line('target="even"') ?? '', / 1$/);
  } finally {
    await pool.close();
  }
});
