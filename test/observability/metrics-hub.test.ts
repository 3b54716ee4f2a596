import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsHub } from '../../src/observability/metrics/metrics-hub.js';
import { MAX_MERGED_LABEL_NAMES, MAX_MERGED_METRIC_NAMES, MAX_MERGED_SERIES, MAX_MERGED_SERIES_PER_METRIC, OTHER_MERGED_NAMES } from '../../src/observability/metrics/snapshot-merger.js';
import { MAX_LABELS_PER_METRIC } from '../../src/runtime/worker/processor-metrics.js';
import type { WorkerSeriesSnapshot } from '../../src/observability/metrics/worker-snapshot.js';
import { fromLabelledSnapshot, type LabelledSnapshot } from '../../src/observability/metrics/labelled-snapshot.js';
import { sample } from './fixtures/prom-text.js';

const NOW = 1_700_000_000_000;

test('built-in series record what the typed methods are told', async () => {
  const hub = new MetricsHub({ processMetrics: false, now: () => NOW });
  hub.recordFetched('orders', 10, 1234);
  hub.recordFetched('orders', 5);
  hub.recordProcessed('parse', 'ok', 3, [1, 2, 2000]);
  hub.recordProcessed('parse', 'error', 1);
  hub.recordEmitted('accepted', 2, { bytes: 99, recordTimestamps: [NOW - 3, NOW - 40_000] });
  hub.recordRetried('parse');
  hub.recordDeadLettered('parse', 4);
  hub.setInFlight(7);
  hub.setSourceLag('orders', 42);
  hub.setWorkers(2);
  hub.setWorkerUtilization(0.5);
  hub.recordClientRequest({ command: 'PUT', node: '127.0.0.1:1', outcome: 'ok', durationMs: 0.3, sentBytes: 20, receivedBytes: 6 });
  hub.recordClientRequest({ command: 'PUT', node: '127.0.0.1:1', outcome: 'REQUEST_TIMEOUT', durationMs: 5000 });
  hub.setBreakerState('127.0.0.1:1', 'open');
  hub.setPoolConnections('127.0.0.1:1', { idle: 1, busy: 2, pending: 0 });
  hub.observeCompression('accepted', 1000, 250);
  hub.setJournalStats({ unreleased: 3, bytes: 4096, segments: 1 });

  const text = await hub.metrics();
  assert.equal(sample(text, 'walrus_stream_records_fetched_total', { source: 'orders' }), 15);
  assert.equal(sample(text, 'walrus_stream_fetched_bytes_total', { source: 'orders' }), 1234);
  assert.equal(sample(text, 'walrus_stream_records_processed_total', { processor: 'parse', outcome: 'ok' }), 3);
  assert.equal(sample(text, 'walrus_stream_records_processed_total', { processor: 'parse', outcome: 'error' }), 1);
  assert.equal(sample(text, 'walrus_stream_processing_duration_seconds_count', { processor: 'parse' }), 3);
  assert.equal(sample(text, 'walrus_stream_processing_duration_seconds_bucket', { processor: 'parse', le: '0.001' }), 1);
  assert.equal(sample(text, 'walrus_stream_processing_duration_seconds_bucket', { processor: 'parse', le: '0.0025' }), 2);
  assert.equal(sample(text, 'walrus_stream_processing_duration_seconds_bucket', { processor: 'parse', le: '2.5' }), 3);
  assert.equal(sample(text, 'walrus_stream_processing_duration_seconds_sum', { processor: 'parse' }), 2.003);
  assert.equal(sample(text, 'walrus_stream_records_emitted_total', { sink: 'accepted' }), 2);
  assert.equal(sample(text, 'walrus_stream_end_to_end_latency_seconds_bucket', { sink: 'accepted', le: '0.005' }), 1);
  assert.equal(sample(text, 'walrus_stream_end_to_end_latency_seconds_bucket', { sink: 'accepted', le: '30' }), 1);
  assert.equal(sample(text, 'walrus_stream_end_to_end_latency_seconds_bucket', { sink: 'accepted', le: '60' }), 2);
  assert.equal(sample(text, 'walrus_stream_records_retried_total', { processor: 'parse' }), 1);
  assert.equal(sample(text, 'walrus_stream_records_dead_lettered_total', { processor: 'parse' }), 4);
  assert.equal(sample(text, 'walrus_stream_in_flight_records'), 7);
  assert.equal(sample(text, 'walrus_stream_source_lag_entries', { source: 'orders' }), 42);
  assert.equal(sample(text, 'walrus_stream_worker_utilization_ratio'), 0.5);
  assert.equal(sample(text, 'walrus_stream_client_requests_total', { command: 'PUT', node: '127.0.0.1:1', outcome: 'REQUEST_TIMEOUT' }), 1);
  assert.equal(sample(text, 'walrus_stream_client_request_duration_seconds_count', { command: 'PUT', node: '127.0.0.1:1' }), 2);
  assert.equal(sample(text, 'walrus_stream_client_sent_bytes_total', { node: '127.0.0.1:1' }), 20);
  assert.equal(sample(text, 'walrus_stream_breaker_state', { node: '127.0.0.1:1' }), 2);
  assert.equal(sample(text, 'walrus_stream_pool_connections', { node: '127.0.0.1:1', state: 'busy' }), 2);
  assert.equal(sample(text, 'walrus_stream_compression_ratio_bucket', { sink: 'accepted', le: '0.2' }), 0);
  assert.equal(sample(text, 'walrus_stream_compression_ratio_bucket', { sink: 'accepted', le: '0.3' }), 1);
  assert.equal(sample(text, 'walrus_stream_journal_size_bytes'), 4096);

  const progress = hub.progress();
  assert.deepEqual(progress.fetched, { orders: 15 });
  assert.deepEqual(progress.emitted, { accepted: 2 });
  assert.equal(progress.errors, 1);
  assert.equal(progress.deadLettered, 4);
  assert.equal(progress.inFlight, 7);
  assert.equal(progress.at, NOW);
});

/** A one-counter snapshot, as a worker generation would send it. */
function counterSnapshot(generation: string, seq: number | undefined, name: string, labelNames: string[], series: Array<[string[], number]>): WorkerSeriesSnapshot {
  return { generation, ...(seq === undefined ? {} : { seq }), metrics: [{ kind: 'counter', name, help: 'Test.', labelNames, series: series.map(([labels, value]) => ({ labels, value })) }] };
}

test('cumulative snapshots: duplicates and stale ones add nothing, a new generation starts from zero', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  const s1 = counterSnapshot('g1', 1, 'app_events_total', ['type'], [[['x'], 5]]);
  const s2 = counterSnapshot('g1', 2, 'app_events_total', ['type'], [[['x'], 7]]);
  assert.deepEqual(hub.mergeWorkerSnapshot(1, s1), []);
  hub.mergeWorkerSnapshot(1, s2);
  hub.mergeWorkerSnapshot(1, s2);
  hub.mergeWorkerSnapshot(1, s1);
  assert.equal(sample(await hub.metrics(), 'app_events_total', { type: 'x' }), 7);

  // Same worker id, new life: its totals restart at zero and add up.
  hub.mergeWorkerSnapshot(1, counterSnapshot('g2', 1, 'app_events_total', ['type'], [[['x'], 1]]));
  assert.equal(sample(await hub.metrics(), 'app_events_total', { type: 'x' }), 8);

  // A retired generation is ignored from then on.
  hub.retireWorker(1, 'g1');
  hub.mergeWorkerSnapshot(1, counterSnapshot('g1', 3, 'app_events_total', ['type'], [[['x'], 107]]));
  assert.equal(sample(await hub.metrics(), 'app_events_total', { type: 'x' }), 8);
});

test('conflicting declarations across workers are reported, the rest still merges', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  hub.mergeWorkerSnapshot('a', counterSnapshot('a', 1, 'app_hits_total', ['route'], [[['/'], 1]]));
  const b: WorkerSeriesSnapshot = {
    generation: 'b',
    metrics: [
      { kind: 'histogram', name: 'app_hits_total', help: 'Hits.', labelNames: [], buckets: [1, 2], series: [{ labels: [], counts: [1, 0, 0], sum: 1, count: 1 }] },
      { kind: 'counter', name: 'app_misses_total', help: 'Misses.', labelNames: [], series: [{ labels: [], value: 1 }] },
    ],
  };
  const problems = hub.mergeWorkerSnapshot('b', b);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.metric, 'app_hits_total');
  assert.match(problems[0]!.message, /already known as a counter/);
  // More label names than a metric may have over every worker: reported, not merged.
  const wide = counterSnapshot('c', 1, 'app_misses_total', Array.from({ length: MAX_MERGED_LABEL_NAMES + 1 }, (_, i) => `l${i}`),
    [[Array.from({ length: MAX_MERGED_LABEL_NAMES + 1 }, () => 'v'), 1]]);
  assert.match(hub.mergeWorkerSnapshot('c', wide)[0]!.message, /more than 16 label names; use the same few label names on every call/);
  assert.equal(sample(await hub.metrics(), 'app_misses_total'), 1);
});

test('a label name a metric did not have yet widens it: earlier series get "" for it, and later cumulative snapshots still add only what is new', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  // Worker a's first snapshot (a probe batch) saw only `tier`; its next one brings `reason` (set by some records only).
  assert.deepEqual(hub.mergeWorkerSnapshot('a', counterSnapshot('a', 1, 'app_orders_total', ['tier'], [[['gold'], 3]])), []);
  assert.deepEqual(hub.mergeWorkerSnapshot('a', counterSnapshot('a', 2, 'app_orders_total', ['reason', 'tier'], [[['', 'gold'], 5], [['late', 'gold'], 2]])), []);
  // Worker b still uses the old subset.
  assert.deepEqual(hub.mergeWorkerSnapshot('b', counterSnapshot('b', 1, 'app_orders_total', ['tier'], [[['silver'], 4]])), []);
  // A duplicate of a's second snapshot and a stale first one add nothing (the baselines follow the widening).
  hub.mergeWorkerSnapshot('a', counterSnapshot('a', 2, 'app_orders_total', ['reason', 'tier'], [[['', 'gold'], 5], [['late', 'gold'], 2]]));
  hub.mergeWorkerSnapshot('a', counterSnapshot('a', 3, 'app_orders_total', ['tier'], [[['gold'], 5]]));
  let text = await hub.metrics();
  assert.equal(sample(text, 'app_orders_total', { tier: 'gold', reason: '' }), 5);
  assert.equal(sample(text, 'app_orders_total', { tier: 'gold', reason: 'late' }), 2);
  assert.equal(sample(text, 'app_orders_total', { tier: 'silver', reason: '' }), 4);
  assert.equal(sample(text, 'app_orders_total', { tier: 'gold' }), undefined, 'every series carries every label name');
  hub.mergeWorkerSnapshot('a', counterSnapshot('a', 4, 'app_orders_total', ['reason', 'tier'], [[['', 'gold'], 9]]));
  text = await hub.metrics();
  assert.equal(sample(text, 'app_orders_total', { tier: 'gold', reason: '' }), 9);

  // A metric with no label at all widens too (its one series gets "" for each new name), and a repeated snapshot adds nothing.
  assert.deepEqual(hub.mergeWorkerSnapshot('n', counterSnapshot('n', 1, 'app_plain_total', [], [[[], 2]])), []);
  assert.deepEqual(hub.mergeWorkerSnapshot('n', counterSnapshot('n', 2, 'app_plain_total', ['a', 'b'], [[['', ''], 3], [['x', 'y'], 1]])), []);
  hub.mergeWorkerSnapshot('n', counterSnapshot('n', 3, 'app_plain_total', [], [[[], 3]]));
  text = await hub.metrics();
  assert.equal(sample(text, 'app_plain_total', { a: '', b: '' }), 3);
  assert.equal(sample(text, 'app_plain_total', { a: 'x', b: 'y' }), 1);

  // A histogram widens the same way.
  const histogram = (seq: number, labelNames: string[], labels: string[], count: number): WorkerSeriesSnapshot => ({
    generation: 'h', seq, metrics: [{ kind: 'histogram', name: 'app_wait_seconds', help: 'Wait.', labelNames, buckets: [], series: [{ labels, counts: [count], sum: count, count }] }],
  });
  assert.deepEqual(hub.mergeWorkerSnapshot('h', histogram(1, ['zone'], ['eu'], 2)), []);
  assert.deepEqual(hub.mergeWorkerSnapshot('h', histogram(2, ['kind', 'zone'], ['x', 'eu'], 3)), []);
  assert.deepEqual(hub.mergeWorkerSnapshot('h', histogram(3, ['zone'], ['eu'], 6)), []);
  text = await hub.metrics();
  assert.equal(sample(text, 'app_wait_seconds_count', { zone: 'eu', kind: '' }), 6);
  assert.equal(sample(text, 'app_wait_seconds_count', { zone: 'eu', kind: 'x' }), 3);
});

test('processor metrics with a reserved or invalid name or label are reported, not merged', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  const bad: LabelledSnapshot = {
    counters: [
      { name: 'walrus_stream_mine_total', labels: {}, value: 1 },
      { name: '9lives', labels: {}, value: 1 },
      { name: 'ok_total', labels: { le: '1' }, value: 1 },
      { name: 'fine_total', labels: { route: '/' }, value: 2 },
    ],
    summaries: [],
  };
  const problems = hub.mergeWorkerSnapshot(1, fromLabelledSnapshot(bad, '1'));
  assert.deepEqual(problems.map((p) => p.metric), ['walrus_stream_mine_total', '9lives', 'ok_total']);
  assert.match(problems[0]!.message, /reserved prefix/);
  assert.match(problems[2]!.message, /label "le"/);
  assert.equal(sample(await hub.metrics(), 'fine_total', { route: '/' }), 2);
});

test('without seq, a late older snapshot adds nothing: per series the larger total wins', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  const older = { generation: 't7', metrics: [{ kind: 'counter' as const, name: 'app_done_total', help: 'Done.', labelNames: [], series: [{ labels: [], value: 3 }] }] };
  const newer = { generation: 't7', metrics: [{ kind: 'counter' as const, name: 'app_done_total', help: 'Done.', labelNames: [], series: [{ labels: [], value: 10 }] }] };
  hub.mergeWorkerSnapshot(7, newer);
  hub.mergeWorkerSnapshot(7, older);
  hub.mergeWorkerSnapshot(7, newer);
  assert.equal(sample(await hub.metrics(), 'app_done_total'), 10);
});

test('the runtime\'s free-form ctx.metrics snapshots merge exactly, summaries as _count/_sum', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  const first: LabelledSnapshot = {
    counters: [
      { name: 'orders_valid_total', labels: { processor: 'parse' }, value: 4 },
      { name: 'orders_valid_total', labels: { processor: 'parse', region: 'eu' }, value: 2 },
    ],
    summaries: [{ name: 'orders_amount', labels: { processor: 'parse' }, count: 2, sum: 30 }],
  };
  assert.deepEqual(hub.mergeWorkerSnapshot(3, fromLabelledSnapshot(first, '3')), []);
  const later: LabelledSnapshot = { ...first, summaries: [{ name: 'orders_amount', labels: { processor: 'parse' }, count: 5, sum: 70 }] };
  hub.mergeWorkerSnapshot(3, fromLabelledSnapshot(later, '3'));
  const replacement: LabelledSnapshot = { counters: [{ name: 'orders_valid_total', labels: { processor: 'parse' }, value: 1 }], summaries: [] };
  hub.mergeWorkerSnapshot(4, fromLabelledSnapshot(replacement, '4'));
  const text = await hub.metrics();
  assert.equal(sample(text, 'orders_valid_total', { processor: 'parse', region: '' }), 5);
  assert.equal(sample(text, 'orders_valid_total', { processor: 'parse', region: 'eu' }), 2);
  assert.equal(sample(text, 'orders_amount_count', { processor: 'parse' }), 5);
  assert.equal(sample(text, 'orders_amount_sum', { processor: 'parse' }), 70);
  assert.equal(sample(text, 'orders_amount_bucket', { processor: 'parse', le: '+Inf' }), 5);
});

test('progress() runs the collectors first, so pulled gauges are current', () => {
  const hub = new MetricsHub({ processMetrics: false });
  let threads = 2;
  hub.addCollector(() => { hub.setWorkers(threads); hub.setWorkerUtilization(threads / 4); });
  assert.equal(hub.progress().workers, 2);
  threads = 3;
  const progress = hub.progress();
  assert.equal(progress.workers, 3);
  assert.equal(progress.utilization, 0.75);
});

test('snapshots of the runtime\'s own ctx.metrics (src/runtime/worker/processor-metrics.ts) merge as they are', async () => {
  const { WorkerMetrics } = await import('../../src/runtime/worker/processor-metrics.js');
  const hub = new MetricsHub({ processMetrics: false });
  const worker = new WorkerMetrics();
  const ctxMetrics = worker.forProcessor('parse');
  ctxMetrics.increment('orders_valid_total');
  ctxMetrics.increment('orders_valid_total', 2);
  ctxMetrics.observe('orders_amount_eur', 12.5);
  const snapshot = worker.snapshot(11);
  assert.deepEqual(hub.mergeWorkerSnapshot(snapshot.threadId, fromLabelledSnapshot(snapshot, String(snapshot.threadId))), []);
  ctxMetrics.increment('orders_valid_total');
  const next = worker.snapshot(11);
  hub.mergeWorkerSnapshot(next.threadId, fromLabelledSnapshot(next, String(next.threadId)));
  const text = await hub.metrics();
  assert.equal(sample(text, 'orders_valid_total', { processor: 'parse' }), 4);
  assert.equal(sample(text, 'orders_amount_eur_sum', { processor: 'parse' }), 12.5);
});

test('ctx.metrics series: one per name and label set whatever the label order; `processor` is always the processor\'s name', async () => {
  const { WorkerMetrics } = await import('../../src/runtime/worker/processor-metrics.js');
  const worker = new WorkerMetrics();
  const enrich = worker.forProcessor('enrich');
  const labels = { tier: 'gold', region: 'eu' };
  enrich.increment('orders_total', 1, labels);
  enrich.increment('orders_total', 2, { region: 'eu', tier: 'gold' });
  enrich.increment('orders_total', 4, { tier: 'gold', region: 'eu', processor: 'spoofed' });
  enrich.increment('orders_total', 8, { tier: 'silver', region: 'eu' });
  enrich.increment('orders_total', 16);
  worker.forProcessor('route').increment('orders_total', 32, labels);
  enrich.observe('order_eur', 10, labels);
  enrich.observe('order_eur', 5, { region: 'eu', tier: 'gold' });
  labels.tier = 'changed after the call';
  const { counters, summaries } = worker.snapshot(1);
  const byLabels = (list: ReadonlyArray<{ labels: Readonly<Record<string, string>> }>) => list.map((s) => JSON.stringify(Object.entries(s.labels).sort()));
  assert.deepEqual(counters.map((c) => c.value), [7, 8, 16, 32]);
  assert.deepEqual(byLabels(counters), [
    JSON.stringify([['processor', 'enrich'], ['region', 'eu'], ['tier', 'gold']]),
    JSON.stringify([['processor', 'enrich'], ['region', 'eu'], ['tier', 'silver']]),
    JSON.stringify([['processor', 'enrich']]),
    JSON.stringify([['processor', 'route'], ['region', 'eu'], ['tier', 'gold']]),
  ]);
  assert.deepEqual(summaries.map((s) => [s.count, s.sum]), [[2, 15]]);
  assert.deepEqual(byLabels(summaries), [JSON.stringify([['processor', 'enrich'], ['region', 'eu'], ['tier', 'gold']])]);
  // The runtime's own calls, without a processor.
  worker.increment('walrus_internal', 1, { b: '2', a: '1' });
  worker.increment('walrus_internal', 1, { a: '1', b: '2' });
  assert.deepEqual(worker.snapshot(1).counters.at(-1), { name: 'walrus_internal', labels: { b: '2', a: '1' }, value: 2 });
  // Many label names, in every order of a shuffle: still one series.
  const names = ['e', 'b', 'h', 'a', 'g', 'c', 'f', 'd'];
  for (let round = 0; round < 20; round++) {
    const order = [...names].sort(() => (((round * 7919 + names.length) % 3) - 1));
    order.unshift(...order.splice(round % names.length));
    worker.increment('walrus_wide', 1, Object.fromEntries(order.map((n) => [n, n.toUpperCase()])));
  }
  const wide = worker.snapshot(1).counters.filter((c) => c.name === 'walrus_wide');
  assert.deepEqual(wide.map((c) => c.value), [20]);
});

test('WorkerMetrics: at most 10,000 label sets over all names, 16 label names per metric, 256 names, names of 200 and values of 256 characters; each drop counted with the limit it met first', async () => {
  const m = await import('../../src/runtime/worker/processor-metrics.js');
  assert.deepEqual([m.MAX_SERIES_PER_WORKER, m.MAX_LABELS_PER_METRIC, m.MAX_METRIC_NAMES, m.MAX_METRIC_NAME_CHARS, m.MAX_LABEL_VALUE_CHARS], [10_000, 16, 256, 200, 256]);
  const worker = new m.WorkerMetrics();
  const ctx = worker.forProcessor('p');
  for (let k = 0; k < 11; k++) for (let i = 0; i < 1_000; i++) ctx.increment(`wide${k}_total`, 1, { id: String(i) });
  ctx.increment('wide0_total', 1, { id: '0' }); // kept label sets go on counting
  ctx.increment(`x${'y'.repeat(200)}`, 1);
  ctx.increment('labels_total', 1, Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`l${i}`, 'v'])));
  ctx.increment('value_total', 1, { v: 'z'.repeat(257) });
  ctx.increment('value_total', 1, { v: 'z'.repeat(256) }); // short enough, but the worker is full
  const snap = worker.snapshot(1);
  assert.equal(snap.counters.length, 10_000);
  assert.equal(snap.counters.find((c) => c.name === 'wide0_total' && c.labels.id === '0')!.value, 2);
  assert.deepEqual(snap.dropped, { wide10_total: 1_000, '(other names)': 1, labels_total: 1, value_total: 2 });
  assert.deepEqual(snap.droppedWhy, { wide10_total: 'worker', '(other names)': 'name', labels_total: 'labels', value_total: 'value' });
  const names = new m.WorkerMetrics();
  names.forProcessor('p').increment('value_total', 1, { v: 'z'.repeat(256) });
  for (let i = 0; i < 300; i++) names.forProcessor('p').increment(`n${i}_total`);
  const d = names.delta(1)!;
  assert.equal(d.counters.length, 256);
  assert.equal(d.counters[0]!.labels.v!.length, 256, 'a value of 256 characters is kept');
  assert.deepEqual([d.dropped, d.droppedWhy], [{ '(other names)': 45 }, { '(other names)': 'names' }]);
});

test('WorkerMetrics: 1,000 label sets per name, then updates of new ones are dropped and counted; a delta carries only the names that changed', async () => {
  const { WorkerMetrics, MAX_SERIES_PER_METRIC } = await import('../../src/runtime/worker/processor-metrics.js');
  assert.equal(MAX_SERIES_PER_METRIC, 1_000);
  const worker = new WorkerMetrics();
  const ctx = worker.forProcessor('p');
  for (let i = 0; i < 1_005; i++) ctx.increment('ids_total', 1, { id: String(i) });
  ctx.increment('ids_total', 2, { id: '0' }); // a kept label set goes on counting
  ctx.observe('ids_total', 5, { id: 'x' }); // a summary of the same name has its own limit
  ctx.increment('tiers_total', 1, { tier: 'gold' });
  const first = worker.delta(1)!;
  assert.equal(first.counters.filter((c) => c.name === 'ids_total').length, 1_000);
  assert.equal(first.counters.find((c) => c.name === 'ids_total' && c.labels.id === '0')!.value, 3);
  assert.deepEqual(first.dropped, { ids_total: 5 });
  assert.deepEqual(first.summaries.map((s) => [s.name, s.count, s.sum]), [['ids_total', 1, 5]]);
  assert.equal(worker.snapshot(1).counters.length, 1_001);
  ctx.increment('tiers_total', 1, { tier: 'gold' });
  const second = worker.delta(1)!;
  assert.deepEqual(second.counters.map((c) => [c.name, c.labels.tier, c.value]), [['tiers_total', 'gold', 2]], 'only the name that changed, cumulative');
  assert.deepEqual(second.summaries, []);
  assert.deepEqual(second.dropped, { ids_total: 5 }, 'dropped counts are cumulative');
  const idle = new WorkerMetrics();
  assert.equal(idle.delta(1), undefined);
  idle.forProcessor('q').increment('a_total');
  assert.ok(idle.delta(1));
  assert.equal(idle.delta(1), undefined, 'nothing changed since');
});

test('the coordinator allows a processor metric as many label names as a worker keeps', () => {
  assert.equal(MAX_MERGED_LABEL_NAMES, MAX_LABELS_PER_METRIC);
});

test('the coordinator bounds processor metrics over every worker generation: names past 1,000 and label sets past 10,000 per metric are reported, not merged; what was merged stays exact', async () => {
  // A worker keeps at most 256 names and 1,000 label sets per name, but each replacement thread starts a new count:
  // snapshots from many generations must not grow the registry without end.
  const hub = new MetricsHub({ processMetrics: false });
  for (let g = 0; g < MAX_MERGED_METRIC_NAMES / 250; g++) {
    const snapshot: WorkerSeriesSnapshot = { generation: `g${g}`, metrics: Array.from({ length: 250 }, (_, i) => ({
      kind: 'counter' as const, name: `app_m${g * 250 + i}_total`, help: 'Test.', labelNames: [], series: [{ labels: [], value: 1 }] })) };
    assert.deepEqual(hub.mergeWorkerSnapshot(1, snapshot), [], `generation ${g}`);
  }
  const past: WorkerSeriesSnapshot = { generation: 'past', metrics: [
    { kind: 'counter', name: 'app_new_a_total', help: 'Test.', labelNames: [], series: [{ labels: [], value: 1 }] },
    { kind: 'counter', name: 'app_new_b_total', help: 'Test.', labelNames: [], series: [{ labels: [], value: 1 }] },
    { kind: 'counter', name: 'app_m7_total', help: 'Test.', labelNames: [], series: [{ labels: [], value: 5 }] },
  ] };
  const problems = hub.mergeWorkerSnapshot(1, past);
  assert.deepEqual(problems.map((p) => p.metric), [OTHER_MERGED_NAMES], 'one problem for every name past the bound');
  assert.match(problems[0]!.message, /more than 1,000 processor metric names/);
  let text = await hub.metrics();
  assert.equal(sample(text, 'app_new_a_total'), undefined);
  assert.equal(sample(text, 'app_m7_total'), 6, 'a name already merged still counts');

  // Label sets of one metric over many generations.
  const hub2 = new MetricsHub({ processMetrics: false });
  const per = 1_000;
  for (let g = 0; g < MAX_MERGED_SERIES_PER_METRIC / per; g++) {
    assert.deepEqual(hub2.mergeWorkerSnapshot(1, counterSnapshot(`s${g}`, 1, 'app_by_id_total', ['id'], Array.from({ length: per }, (_, i) => [[`i${g * per + i}`], 1] as [string[], number]))), []);
  }
  const more = hub2.mergeWorkerSnapshot(1, counterSnapshot('s-past', 1, 'app_by_id_total', ['id'], [[['fresh'], 1], [['i3'], 4]]));
  assert.equal(more.length, 1);
  assert.match(more[0]!.message, /more than 10,000 label sets for this metric, or 100,000 over all processor metrics, over all worker threads: 1 new ones/);
  text = await hub2.metrics();
  assert.equal(sample(text, 'app_by_id_total', { id: 'fresh' }), undefined);
  assert.equal(sample(text, 'app_by_id_total', { id: 'i3' }), 5, 'a label set already merged still counts');
  assert.equal(text.split('\n').filter((l) => l.startsWith('app_by_id_total{')).length, MAX_MERGED_SERIES_PER_METRIC);
  // The same for a histogram (a ctx.metrics.observe).
  const observed = (generation: string, ids: string[]): WorkerSeriesSnapshot => ({ generation, metrics: [{
    kind: 'histogram', name: 'app_wait_seconds', help: 'Wait.', labelNames: ['id'], buckets: [],
    series: ids.map((id) => ({ labels: [id], counts: [1], sum: 1, count: 1 })) }] });
  assert.deepEqual(hub2.mergeWorkerSnapshot(2, observed('h1', Array.from({ length: MAX_MERGED_SERIES_PER_METRIC }, (_, i) => `i${i}`))), []);
  const over = hub2.mergeWorkerSnapshot(2, observed('h2', ['fresh', 'i0']));
  assert.match(over[0]!.message, /1 new ones in this snapshot not merged/);
  text = await hub2.metrics();
  assert.equal(sample(text, 'app_wait_seconds_count', { id: 'i0' }), 2);
  assert.equal(sample(text, 'app_wait_seconds_count', { id: 'fresh' }), undefined);
});

test('the coordinator keeps at most 100,000 label sets over all processor metrics', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  const metrics = MAX_MERGED_SERIES / MAX_MERGED_SERIES_PER_METRIC;
  for (let m = 0; m < metrics; m++) {
    const ids = Array.from({ length: MAX_MERGED_SERIES_PER_METRIC }, (_, i) => [[`i${i}`], 1] as [string[], number]);
    assert.deepEqual(hub.mergeWorkerSnapshot(1, counterSnapshot(`g${m}`, 1, `app_full${m}_total`, ['id'], ids)), []);
  }
  const over = hub.mergeWorkerSnapshot(1, counterSnapshot('late', 1, 'app_late_total', ['id'], [[['a'], 1], [['b'], 1]]));
  assert.match(over[0]!.message, /100,000 over all processor metrics/);
  const text = await hub.metrics();
  assert.equal(sample(text, 'app_late_total', { id: 'a' }), undefined);
  assert.equal(sample(text, 'app_full0_total', { id: 'i9' }), 1);
});
