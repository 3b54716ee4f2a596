import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { startPipelineServer } from '../../src/runtime/pipeline/instrumentation-wiring.js';
import { MetricsHub, parsePrometheusText, type PromSample } from '../../src/observability/index.js';
import { harness, type Harness } from './harness.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const fixtures = fileURLToPath(new URL('../observability/fixtures/', import.meta.url));

async function scrape(address: string): Promise<PromSample[]> {
  const res = await fetch(`http://${address}/metrics`);
  assert.equal(res.status, 200);
  return parsePrometheusText(await res.text());
}

const sum = (samples: PromSample[], name: string, labels: Record<string, string> = {}) => samples
  .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  .reduce((a, s) => a + s.value, 0);

test('/metrics during and after a 2-worker run equals the true totals, with a worker killed and replaced mid-run', async () => {
  const n = 600;
  const crashAt = 137;
  await h.produce('in', Array.from({ length: n }, (_, i) => ({ value: { n: i, crash: i === crashAt } })), 10);
  const { topology } = await loadTopologyText(`
app: obs
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms, batchSize: 5 } }
processors:
  count: { module: ./counting-crash.ts, input: in, batchSize: 10, retry: { attempts: 3, initialDelay: 5ms, maxDelay: 20ms }, config: { marker: "\${STATE_DIR}/crashed" } }
  plus: { module: ./plus-one.ts, input: count }
sinks:
  out: { topic: out, input: plus }
`, join(fixtures, 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  const hub = new MetricsHub({ processMetrics: false });
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address], untilIdle: true, metrics: hub });
  const server = await startPipelineServer(hub, { client: pipeline.client, pool: pipeline.pool, nodes: () => pipeline.nodes }, { host: '127.0.0.1', port: 0 });
  try {
    // During the run: never more than the truth, never going backwards.
    let finished = false;
    void pipeline.done.finally(() => { finished = true; });
    let scrapesDuring = 0;
    let last = 0;
    let busiest = 0;
    while (!finished) {
      const during = await scrape(server.address);
      const processed = sum(during, 'walrus_stream_records_processed_total', { processor: 'count', outcome: 'ok' });
      assert.ok(processed <= n && processed >= last, `processed ${processed} (before: ${last})`);
      assert.ok(sum(during, 'fixture_seen_total') <= n, 'a processor metric never counts past the truth');
      last = processed;
      busiest = Math.max(busiest, sum(during, 'walrus_stream_worker_utilization_ratio'));
      scrapesDuring += 1;
      await new Promise((r) => setTimeout(r, 5));
    }
    const summary = await pipeline.done;
    assert.ok(scrapesDuring >= 1, 'scraped during the run');
    const m = await scrape(server.address);
    assert.equal(sum(m, 'walrus_stream_records_fetched_total', { source: 'in' }), n);
    assert.ok(sum(m, 'walrus_stream_fetched_bytes_total', { source: 'in' }) > 0, 'fetched bytes');
    assert.equal(sum(m, 'walrus_stream_records_processed_total', { processor: 'count', outcome: 'ok' }), n);
    assert.equal(sum(m, 'walrus_stream_records_processed_total', { processor: 'plus', outcome: 'ok' }), n);
    assert.equal(sum(m, 'walrus_stream_records_emitted_total', { sink: 'out' }), n);
    assert.equal(sum(m, 'walrus_stream_records_dead_lettered_total'), 0);
    // The crashed batch's records ran again (retried, or re-run by the pool) and were counted once when they finished.
    assert.ok(existsSync(join(h.stateDir, 'crashed')), 'the worker really died');
    assert.equal(sum(m, 'walrus_stream_worker_replacements_total'), 1);
    assert.equal(sum(m, 'walrus_stream_processing_duration_seconds_count', { processor: 'count' }), n);
    assert.equal(sum(m, 'walrus_stream_end_to_end_latency_seconds_count', { sink: 'out' }), n);
    assert.equal(sum(m, 'walrus_stream_queue_wait_seconds_count', { processor: 'count' }) >= n, true);
    // Tasks by stage group: every record went in one (the crashed batch's twice), in batches, not one a task.
    assert.ok(sum(m, 'walrus_stream_batch_records_sum', { group: 'count' }) >= n, 'every record was in a task');
    const tasks = sum(m, 'walrus_stream_batch_records_count', { group: 'count' });
    assert.ok(tasks >= 1 && tasks < n / 2, `${tasks} tasks for ${n} records`);
    assert.equal(sum(m, 'walrus_stream_in_flight_records'), 0);
    // Processor-defined metric from the workers: what the killed thread counted for the
    // batch it died in never arrived; the re-runs counted it once.
    assert.equal(sum(m, 'fixture_seen_total'), n);
    assert.equal(sum(m, 'fixture_seen_total', { kind: 'even' }), n / 2);
    // Gauges: source lag from the node's STATE, worker threads and utilisation, the journal.
    assert.ok(m.some((s) => s.name === 'walrus_stream_source_lag_entries' && s.labels.source === 'in'), 'source lag reported');
    assert.equal(sum(m, 'walrus_stream_worker_threads'), 2);
    // Utilisation covers the last second: busy at some point during the run, within 0..1 after it.
    const utilization = sum(m, 'walrus_stream_worker_utilization_ratio');
    assert.ok(utilization >= 0 && utilization <= 1, `utilisation ${utilization}`);
    assert.ok(busiest > 0 && busiest <= 1, `utilisation during the run peaked at ${busiest}`);
    assert.ok(m.some((s) => s.name === 'walrus_stream_journal_segments'), 'journal gauges');
    // Client series from the diagnostics channels.
    assert.ok(sum(m, 'walrus_stream_client_requests_total', { outcome: 'ok' }) > 0, 'client requests');
    assert.equal(summary.sinks.out.records, n);
    assert.equal((await h.drain('out')).length, n);
  } finally {
    await server.close();
  }
});

test('retries, failures by outcome and dead letters (including undecodable entries) are counted by the hub', async () => {
  await h.client.register('in');
  const { encodeRecords } = await import('../../src/codec/index.js');
  const json = (v: unknown) => encodeRecords([{ value: Buffer.from(JSON.stringify(v)) }]);
  await h.client.putMany('in', [json({ n: 1 }), json({ n: 2, failTimes: 2 }), json({ n: 3, fatal: true }), 'ws1:not base64url msgpack']);
  const { topology } = await loadTopologyText(`
app: obs2
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  flaky: { module: ../../fixtures/processors/flaky.ts, input: in, retry: { attempts: 3, initialDelay: 5ms, maxDelay: 20ms }, deadLetter: in.failed }
sinks:
  ok: { topic: ok, input: flaky }
`, join(fixtures, 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  const hub = new MetricsHub({ processMetrics: false });
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address], untilIdle: true, metrics: hub });
  await pipeline.done;
  const m = parsePrometheusText(await hub.metrics());
  assert.equal(sum(m, 'walrus_stream_records_processed_total', { processor: 'flaky', outcome: 'ok' }), 2);
  assert.equal(sum(m, 'walrus_stream_records_processed_total', { processor: 'flaky', outcome: 'error' }), 1);
  assert.equal(sum(m, 'walrus_stream_records_retried_total', { processor: 'flaky' }), 2);
  assert.equal(sum(m, 'walrus_stream_records_dead_lettered_total', { processor: 'flaky' }), 1);
  assert.equal(sum(m, 'walrus_stream_records_dead_lettered_total', { processor: '(decode)' }), 1);
  assert.equal(sum(m, 'walrus_stream_records_emitted_total', { sink: 'ok' }), 2);
  await h.drain('ok');
  await h.drainEntries('in.failed');
});

test('compression ratio: one observation per compressed sink entry, packed by a worker or by the coordinator; none for an uncompressed sink', async () => {
  const n = 40;
  await h.produce('zin', Array.from({ length: n }, (_, i) => ({ value: { n: i } })), 10);
  const { topology } = await loadTopologyText(`
app: obs3
stateDir: \${STATE_DIR}
workers: 1
sources:
  zin: { topic: zin, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  first: { module: ./plus-one.ts, input: zin }
  second: { module: ./plus-one.ts, input: first }
sinks:
  coordZip: { topic: zcoord, input: first, compression: { codec: gzip, threshold: 0 } }
  workerZip: { topic: zworker, input: second, compression: { codec: gzip, threshold: 0 } }
  plain: { topic: zplain, input: second }
`, join(fixtures, 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  const hub = new MetricsHub({ processMetrics: false });
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address], untilIdle: true, metrics: hub });
  await pipeline.done;
  const m = parsePrometheusText(await hub.metrics());
  for (const sink of ['coordZip', 'workerZip']) {
    const count = sum(m, 'walrus_stream_compression_ratio_count', { sink });
    const ratio = sum(m, 'walrus_stream_compression_ratio_sum', { sink }) / count;
    assert.ok(count >= 1, `${sink}: ${count} compressed entries observed`);
    // Compressed size over original size (an entry is only stored compressed when that is smaller).
    assert.ok(ratio > 0 && ratio < 1, `${sink}: ratio ${ratio}`);
  }
  assert.equal(sum(m, 'walrus_stream_compression_ratio_count', { sink: 'plain' }), 0);
  assert.equal(sum(m, 'walrus_stream_records_emitted_total', { sink: 'plain' }), n);
  assert.equal((await h.drain('zworker')).length, n);
  assert.equal((await h.drain('zcoord')).length, n);
  await h.drain('zplain');
});

/** Runs `yaml` (fixtures dir) to completion with a hub and a logger that keeps warnings; returns the summary, the scrape and the warnings. */
async function runWithHub(yaml: string) {
  const { topology } = await loadTopologyText(yaml, join(fixtures, 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  const hub = new MetricsHub({ processMetrics: false });
  const warnings: Array<{ msg: string; metric?: unknown }> = [];
  const logger = { warn: (data: { metric?: unknown }, msg: string) => warnings.push({ msg, metric: data?.metric }), info() {}, debug() {}, error() {}, fatal() {}, trace() {}, child() { return logger; } };
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address], untilIdle: true, metrics: hub, logger: logger as never });
  const summary = await pipeline.done;
  return { summary, samples: parsePrometheusText(await hub.metrics()), warnings };
}

test('a processor metric labelled per record keeps at most 1,000 label sets per worker: the rest are counted as dropped, warned once, and bounded metrics stay exact', async () => {
  const n = 2_500;
  await h.produce('labels.in', Array.from({ length: n }, (_, i) => ({ value: { n: i } })), 25);
  const { summary, samples, warnings } = await runWithHub(`
app: labels
stateDir: \${STATE_DIR}
workers: 2
sources:
  labels: { topic: labels.in }
processors:
  tag: { module: ./labels-per-record.ts, input: labels }
sinks:
  out: { topic: labels.out, input: tag }
`);
  assert.equal(summary.processors.tag!.processed, n);
  const byId = samples.filter((s) => s.name === 'fixture_by_id_total');
  const dropped = sum(samples, 'walrus_stream_metric_updates_dropped_total', { metric: 'fixture_by_id_total' });
  assert.ok(byId.length <= 2 * 1_000, `${byId.length} label sets kept (at most 1,000 per worker thread)`);
  assert.ok(byId.length >= 1_000, `${byId.length} label sets kept: the first 1,000 of a thread are kept`);
  assert.equal(sum(samples, 'fixture_by_id_total') + dropped, n, 'every update either counted or counted as dropped');
  assert.ok(dropped >= n - 2 * 1_000, `dropped ${dropped}`);
  assert.equal(sum(samples, 'fixture_by_tier_total'), n, 'a bounded metric of the same processor is exact');
  assert.equal(samples.filter((s) => s.name === 'fixture_by_tier_total').length, 3);
  const said = warnings.filter((w) => /more than 1000 label sets/.test(w.msg));
  assert.deepEqual(said.map((w) => w.metric), ['fixture_by_id_total'], 'one warning, naming the metric');
});

test('processor metrics that would grow without bound in other ways (a name per record, a label value too long, ever new label names) are bounded too: dropped, counted per limit, warned once each; a fixed metric stays exact', async () => {
  const n = 600;
  await h.produce('abuse.in', Array.from({ length: n }, (_, i) => ({ value: { n: i } })), 50);
  const { summary, samples, warnings } = await runWithHub(`
app: abuse
stateDir: \${STATE_DIR}
workers: 1
sources:
  abuse: { topic: abuse.in }
processors:
  m: { module: ./metric-abuse.ts, input: abuse, concurrency: 1 }
sinks:
  out: { topic: abuse.out, input: m }
`);
  assert.equal(summary.processors.m!.processed, n);
  const dropped = (metric: string) => sum(samples, 'walrus_stream_metric_updates_dropped_total', { metric });
  assert.equal(sum(samples, 'fixture_ok_total'), n, 'a fixed metric is exact');
  // Records are processed in order by one thread: fixture_ok, fixture_wide and fixture_long take three of the 256
  // names, so the first 253 per-record names are kept and every later one is dropped under "(other names)".
  const perRecord = samples.filter((s) => /^fixture_n\d+_total$/.test(s.name));
  assert.equal(perRecord.length, 253);
  assert.equal(dropped('(other names)'), n - 253);
  // A value over 256 characters is never kept.
  assert.equal(samples.filter((s) => s.name === 'fixture_long_total').length, 0);
  assert.equal(dropped('fixture_long_total'), n);
  // 16 label names per metric, `processor` among them: l0..l14 are kept, l15..l39 dropped.
  const kept = samples.filter((s) => s.name === 'fixture_wide_total');
  assert.equal(kept.length, 15);
  assert.equal(sum(samples, 'fixture_wide_total') + dropped('fixture_wide_total'), n);
  assert.equal(dropped('fixture_wide_total'), n - 15 * 15);
  const said = (re: RegExp) => warnings.filter((w) => re.test(w.msg)).map((w) => w.metric);
  assert.deepEqual(said(/more than 256 metric names/), ['(other names)']);
  assert.deepEqual(said(/label value longer than 256 characters/), ['fixture_long_total']);
  assert.deepEqual(said(/more than 16 label names/), ['fixture_wide_total']);
});

test('updates dropped under a metric name per record are counted under at most 256 names per worker, not one entry per record', async () => {
  const n = 2_000;
  await h.produce('badnames.in', Array.from({ length: n }, (_, i) => ({ value: { n: i } })), 50);
  const { summary, samples, warnings } = await runWithHub(`
app: badnames
stateDir: \${STATE_DIR}
workers: 1
sources:
  badnames: { topic: badnames.in }
processors:
  m: { module: ./metric-bad-names.ts, input: badnames, concurrency: 1 }
sinks:
  out: { topic: badnames.out, input: m }
`);
  assert.equal(summary.processors.m!.processed, n);
  // Before: each name got its own entry in the worker's dropped counts (sent whole with every result) and its own
  // walrus_stream_metric_updates_dropped_total series: 2,000 of them. Now a name is admitted first, as for a kept update.
  const series = samples.filter((s) => s.name === 'walrus_stream_metric_updates_dropped_total');
  assert.equal(series.length, 257, `${series.length} series of dropped updates`);
  assert.equal(sum(samples, 'walrus_stream_metric_updates_dropped_total'), n, 'every update counted as dropped once');
  assert.equal(sum(samples, 'walrus_stream_metric_updates_dropped_total', { metric: '(other names)' }), n - 256);
  assert.equal(warnings.filter((w) => /label value longer than 256 characters/.test(w.msg)).length, 256);
  await h.drain('badnames.out');
});
