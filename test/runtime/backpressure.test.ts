import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline, type Pipeline } from '../../src/runtime/pipeline/pipeline.js';
import { SPILL_AFTER } from '../../src/runtime/wire/messages.js';
import { PROBE_RECORDS } from '../../src/runtime/coordinator/backpressure.js';
import { Batcher } from '../../src/runtime/sinks/batcher.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { harness, type Harness } from './harness.js';
import { Writable } from 'node:stream';
import { MetricsHub } from '../../src/observability/index.js';
import { sample } from '../observability/fixtures/prom-text.js';
import { pino } from 'pino';

// The in-flight bound counts source records. A processor that emits a
// thousand records per input used to queue every derived record in the
// coordinator — in the stage group after it, or waiting for a slow sink — up
// to maxInFlight × maxOutputs of them. A group now dispatches nothing while
// what it feeds is full (coordinator.ts, #held): what waits is bounded by
// one task's worth (SPILL_AFTER plus one record's outputs) past the mark.

const FAN = 1_000;
/** What one task of the fan-out can add at once: it stops after SPILL_AFTER derived records, finishing the record it is on. */
const TASK = SPILL_AFTER + FAN;

type Line = { level: number; msg: string; group?: string };

async function start(h: Harness, yaml: string, nodes: string[], maxInFlight: number, lines: Line[], metrics?: MetricsHub): Promise<Pipeline> {
  const { topology } = await loadTopologyText(yaml, join(fileURLToPath(new URL('../fixtures/processors/', import.meta.url)), 'topology.yaml'), {
    env: { STATE_DIR: h.stateDir },
  });
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk)) as Line); done(); } }));
  return startPipeline(topology, { nodes, untilIdle: true, maxInFlight, logger, metrics });
}

const waits = (lines: Line[]) => lines.filter((l) => /waits for .* not through yet/.test(l.msg));

/** Samples `read` every few ms until `done` settles; resolves with the largest value seen. */
async function peakOf(done: Promise<unknown>, read: () => number): Promise<number> {
  let peak = 0;
  const timer = setInterval(() => { peak = Math.max(peak, read()); }, 2);
  try {
    await done;
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, read());
}

test('a fan-out of 1,000 per record into a key-ordered group: the group after it holds at most one task past the mark, not every derived record; all 150,000 written once', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const N = 150;
  await h.produce('bp.in', Array.from({ length: N }, (_, i) => ({ key: `k${i % 20}`, value: { i } })), 50);
  const lines: Line[] = [];
  const hub = new MetricsHub({ processMetrics: false });
  const p = await start(h, `
app: bp
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: bp.in }
processors:
  fan: { module: ./fanout.ts, input: in, rekey: true, config: { n: ${FAN} } }
  next: { module: ./echo.js, input: fan, ordering: key }
sinks:
  out: { topic: bp.out, input: next }
`, [h.broker.address], N, lines, hub);
  assert.deepEqual(p.coordinator.groups.map((g) => g.members), [['fan'], ['next']]);
  let waited = 0;
  const peak = await peakOf(p.done, () => {
    if (p.coordinator.backpressure().waiting.fan === true) waited += 1;
    return p.coordinator.pending().next ?? 0;
  });
  const summary = await p.done;
  assert.equal(summary.processors.next!.processed, N * FAN);
  assert.equal(summary.sinks.out!.records, N * FAN);
  const out = await h.drain('bp.out');
  assert.equal(out.length, N * FAN);
  assert.equal(new Set(out.map((r) => r.id)).size, N * FAN, 'no record written twice');
  // Held at 2 × maxInFlight queued, plus what one task brings; without the hold every derived record queued (~150,000).
  assert.ok(peak <= 2 * N + TASK, `the group after the fan-out held ${peak} records at most (bound ${2 * N + TASK})`);
  assert.ok(peak >= FAN, `sampling saw the queue (${peak})`);
  // `fan` waits for `next`; `next` in turn may wait for the sink (150,000 records to write).
  const said = waits(lines).filter((l) => l.group === 'fan');
  assert.equal(said.length, 1, 'the wait is logged once');
  assert.match(said[0]!.msg, /stage group "fan" waits for "next"/);
  assert.deepEqual(lines.filter((l) => l.level >= 40), [], 'no warning');
  // The gauges: `fan` was seen waiting during the run; at the end nothing waits and no sink record is pending.
  assert.ok(waited > 0, 'the backpressure gauge showed fan waiting');
  const text = await hub.metrics();
  assert.equal(sample(text, 'walrus_stream_stage_group_waiting_state', { group: 'fan' }), 0);
  assert.equal(sample(text, 'walrus_stream_stage_group_waiting_state', { group: 'next' }), 0);
  assert.equal(sample(text, 'walrus_stream_sink_backlog_records'), 0);
});

test('a sink slower than the fan-out feeding it: records waiting for the node stay within one task past the mark, and every one is written once', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const [host, port] = h.broker.address.split(':');
  const proxy = await FaultProxy.start({ host: host!, port: Number(port) });
  t.after(() => proxy.close());
  const N = 100;
  await h.produce('bps.in', Array.from({ length: N }, (_, i) => ({ value: { i } })));
  const lines: Line[] = [];
  // Every request and reply through the proxy waits 100 ms: one sink write per round trip, far slower than the fan-out.
  proxy.setMode({ kind: 'delay', ms: 100 });
  const p = await start(h, `
app: bps
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: bps.in }
processors:
  fan: { module: ./fanout.ts, input: in, config: { n: ${FAN} } }
sinks:
  out: { topic: bps.out, input: fan }
`, [proxy.address], N, lines);
  const peak = await peakOf(p.done, () => p.coordinator.backpressure().sinkBacklog);
  const summary = await p.done;
  proxy.setMode({ kind: 'pass' });
  assert.equal(summary.sinks.out!.records, N * FAN);
  const out = await h.drain('bps.out');
  assert.equal(out.length, N * FAN);
  assert.equal(new Set(out.map((r) => r.id)).size, N * FAN, 'no record written twice');
  // Held at 8 × maxInFlight waiting, plus what one task brings; without the hold all 100,000 waited for the node.
  assert.ok(peak <= 8 * N + TASK, `sink records waiting peaked at ${peak} (bound ${8 * N + TASK})`);
  assert.ok(peak >= FAN, `sampling saw the backlog (${peak})`);
  const said = waits(lines);
  assert.equal(said.length, 1, 'the wait is logged once');
  assert.match(said[0]!.msg, /stage group "fan" waits for the sinks/);
});

test('a group\'s first batch is a probe of a few records: the second worker starts after them, not after a whole batch', { timeout: 60_000 }, async (t) => {
  // How much a group derives per record is unknown until its first batch is
  // back, so only that batch is out; at full size (256) every other worker
  // waited for all of it (a chain of 3 × 1 ms steps: 0.8 s idle, bench:pipeline (f)).
  const h = await harness();
  t.after(() => h.close());
  const N = 120;
  await h.produce('bpp.in', Array.from({ length: N }, (_, n) => ({ value: { n } })));
  const p = await start(h, `
app: bpp
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: bpp.in }
processors:
  work: { module: ./started-at.ts, input: in, batchSize: 32, config: { ms: 20 } }
sinks:
  out: { topic: bpp.out, input: work }
`, [h.broker.address], N, []);
  await p.done;
  const out = (await h.drain('bpp.out')).map((r) => r.value as { n: number; thread: number; startedAt: number });
  assert.equal(out.length, N);
  assert.deepEqual(out.map((r) => r.n).sort((a, b) => a - b), Array.from({ length: N }, (_, n) => n), 'every record once');
  const byStart = [...out].sort((a, b) => a.startedAt - b.startedAt);
  const first = byStart[0]!.thread;
  const before = byStart.findIndex((r) => r.thread !== first);
  assert.ok(before > 0, 'both workers ran records');
  // The probe's records, then maybe a few of the first thread's next batch while the second one's batch reaches its thread.
  assert.ok(before <= 2 * PROBE_RECORDS, `the second worker started after ${before} records of the first (probe: ${PROBE_RECORDS}; a full batch is 32)`);
});

test('Batcher.pendingWeight counts what waits and what is being written, and afterWrite fires once each write settles', async () => {
  let release: (() => void) | undefined;
  const written: number[][] = [];
  let after = 0;
  const b = new Batcher<number>({
    maxItems: 3, lingerMs: 1_000, weight: (n) => n,
    flush: async (items) => { written.push(items); await new Promise<void>((resolve) => { release = resolve; }); },
    afterWrite: () => { after += 1; },
  });
  const acks: Array<unknown> = [];
  b.push(1, (e) => acks.push(e ?? 'ok'));
  assert.equal(b.pendingWeight, 1);
  b.push(5, (e) => acks.push(e ?? 'ok')); // weight 6 ≥ 3: written now
  assert.deepEqual(written, [[1, 5]]);
  assert.equal(b.pendingWeight, 6, 'the write in flight still counts');
  b.push(2, (e) => acks.push(e ?? 'ok'));
  assert.equal(b.pendingWeight, 8);
  release!();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(after, 1);
  assert.deepEqual(acks, ['ok', 'ok']);
  assert.deepEqual(written, [[1, 5], [2]], 'what waited went next');
  assert.equal(b.pendingWeight, 2);
  release!();
  await b.flush();
  assert.equal(b.pendingWeight, 0);
  assert.equal(after, 2);
  assert.deepEqual(acks, ['ok', 'ok', 'ok']);
});
