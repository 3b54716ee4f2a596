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
