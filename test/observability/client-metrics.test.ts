import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WalrusClient } from '../../src/client/index.js';
import { MetricsHub } from '../../src/observability/metrics/metrics-hub.js';
import { attachClientMetrics } from '../../src/observability/metrics/client-metrics.js';
import { withBroker } from '../helpers/broker.js';
import { sample } from './fixtures/prom-text.js';

test('client requests, bytes, latency, pool gauges and breaker state reach the hub', async () => {
  await withBroker(async (node) => {
    const hub = new MetricsHub({ processMetrics: false });
    const client = new WalrusClient({ nodes: [node.address] });
    const detach = attachClientMetrics(hub, client);
    try {
      await client.register('obs-orders');
      for (let i = 0; i < 5; i++) await client.put('obs-orders', `order ${i}`);
      assert.equal((await client.get('obs-orders'))?.toString(), 'order 0');
      await assert.rejects(client.put('obs-missing', 'x'));

      const text = await hub.metrics();
      const stats = client.stats().nodes[node.address]!;
      assert.equal(sample(text, 'walrus_stream_client_requests_total', { command: 'PUT', node: node.address, outcome: 'ok' }), 5);
      assert.equal(sample(text, 'walrus_stream_client_requests_total', { command: 'PUT', node: node.address, outcome: 'TOPIC_NOT_FOUND' }), 1);
      assert.equal(sample(text, 'walrus_stream_client_requests_total', { command: 'GET', node: node.address, outcome: 'ok' }), 1);
      assert.equal(sample(text, 'walrus_stream_client_request_duration_seconds_count', { command: 'PUT', node: node.address }), 6);
      // The same numbers as the client's own counters, so nothing was lost in between.
      const sent = Object.values(stats.requests).reduce((n, c) => n + c.bytesOut, 0);
      const received = Object.values(stats.requests).reduce((n, c) => n + c.bytesIn, 0);
      assert.equal(sample(text, 'walrus_stream_client_sent_bytes_total', { node: node.address }), sent);
      assert.equal(sample(text, 'walrus_stream_client_received_bytes_total', { node: node.address }), received);
      assert.equal(sample(text, 'walrus_stream_pool_connections', { node: node.address, state: 'idle' }), stats.pool.idle);
      assert.equal(sample(text, 'walrus_stream_breaker_state', { node: node.address }), 0);
    } finally {
      detach();
      await client.close();
    }
    // Detached: further requests are not counted.
    const other = new WalrusClient({ nodes: [node.address] });
    try {
      await other.put('obs-orders', 'late');
      assert.equal(sample(await hub.metrics(), 'walrus_stream_client_requests_total', { command: 'PUT', node: node.address, outcome: 'ok' }), 5);
    } finally {
      await other.close();
    }
  });
});

test('a failing collector is counted and does not break the scrape', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  hub.addCollector(() => { throw Object.assign(new Error('journal closed'), { code: 'JOURNAL_ERROR' }); });
  const remove = hub.addCollector(() => hub.setJournalStats({ unreleased: 1, bytes: 10, segments: 1 }));
  let text = await hub.metrics();
  assert.equal(sample(text, 'walrus_stream_errors_total', { component: 'collector', code: 'JOURNAL_ERROR' }), 1);
  assert.equal(sample(text, 'walrus_stream_journal_size_bytes'), 10);
  remove();
  hub.setJournalStats({ unreleased: 0, bytes: 20, segments: 1 });
  text = await hub.metrics();
  assert.equal(sample(text, 'walrus_stream_journal_size_bytes'), 20);
});
