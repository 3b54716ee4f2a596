import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsHub } from '../../src/observability/metrics/metrics-hub.js';
import { startObservabilityServer } from '../../src/observability/http/http-server.js';
import { readinessFromChecks } from '../../src/observability/http/readiness.js';
import { formatPipelineMetrics, histogramQuantile, parsePrometheusText } from '../../src/observability/metrics/metrics-text.js';
import { fetchPipelineStatus } from '../../src/observability/http/pipeline-status.js';
import { WalrusError } from '../../src/errors/index.js';

test('parses Prometheus text, including escaped label values and +Inf', () => {
  const samples = parsePrometheusText('# HELP x y\nx_total{a="q\\"uote",b="back\\\\slash"} 3\nh_bucket{le="+Inf"} 4\nplain 1.5e3\n');
  assert.deepEqual(samples, [
    { name: 'x_total', labels: { a: 'q"uote', b: 'back\\slash' }, value: 3 },
    { name: 'h_bucket', labels: { le: '+Inf' }, value: 4 },
    { name: 'plain', labels: {}, value: 1500 },
  ]);
});

test('histogram quantiles interpolate inside the bucket like histogram_quantile', () => {
  const buckets = [{ le: 0.1, count: 50 }, { le: 0.2, count: 100 }, { le: Infinity, count: 100 }];
  assert.equal(histogramQuantile(0.5, buckets), 0.1);
  assert.ok(Math.abs(histogramQuantile(0.75, buckets)! - 0.15) < 1e-12);
  assert.equal(histogramQuantile(0.5, [{ le: Infinity, count: 0 }]), undefined);
  assert.equal(histogramQuantile(0.99, [{ le: 1, count: 1 }, { le: Infinity, count: 100 }]), 1, 'the +Inf bucket answers its lower bound');
});

test('the pipeline table shows counters, gauges and histogram summaries from a real scrape', async () => {
  const hub = new MetricsHub();
  hub.recordFetched('orders', 1200);
  hub.recordProcessed('parse', 'ok', 4, [1, 2, 3, 4]);
  hub.setInFlight(9);
  const table = formatPipelineMetrics(await hub.metrics());
  assert.match(table, /^records_fetched_total +source=orders +1,200$/m);
  assert.match(table, /^in_flight_records +9$/m);
  assert.match(table, /^processing_duration_seconds +processor=parse +n=4 mean=2\.5 ms p50=\S+ ms p99=\S+ ms$/m);
  assert.doesNotMatch(table, /process_cpu|nodejs_/);
  assert.equal(formatPipelineMetrics('other_total 1\n'), 'no walrus_stream_* series in the scrape\n');
});

test('fetchPipelineStatus reads a live server and explains a missing one', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  hub.recordEmitted('accepted', 2);
  const server = await startObservabilityServer({ port: 0, metrics: hub, readiness: readinessFromChecks({ journal: () => ({ ok: false, detail: 'replaying 3 records' }) }) });
  const address = server.address;
  try {
    const status = await fetchPipelineStatus(address);
    assert.match(status.metrics, /walrus_stream_records_emitted_total\{sink="accepted"\} 2/);
    assert.equal(status.health.status, 200);
    assert.equal(status.ready.status, 503);
    assert.deepEqual(status.ready.body.failing, ['journal: replaying 3 records']);
  } finally {
    await server.close();
  }
  await assert.rejects(fetchPipelineStatus(address), (e: unknown) => e instanceof WalrusError && e.code === 'CONNECTION_REFUSED' && /observability\.http/.test(e.message));
});
