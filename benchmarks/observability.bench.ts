// Overhead of metrics, tracing and the dashboard on the per-record hot path.
//
// A loop stands in for the pipeline's CPU work (no network, no threads): per
// batch of 64 records it decodes a real envelope entry, processes each record
// (JSON parse + transform + stringify, a cheap processor) and encodes the
// outputs into a sink entry with the real codec. Variants add the observability calls the runtime
// makes at the same points. Figures are records per CPU-second (median of
// rounds, variants interleaved); on a shared machine they are still noisy,
// so compare variants within one run only.
//
//   npm run bench:observability [-- --seconds 0.5 --rounds 5]
//
// Each variant runs in its own process: in one process the JIT state left by
// one variant (deoptimised call sites, a registered SDK) skews the next.
import { parseArgs } from 'node:util';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { trace, type Span } from '@opentelemetry/api';
import {
  BasicTracerProvider, ParentBasedSampler, SimpleSpanProcessor, TraceIdRatioBasedSampler, type ReadableSpan, type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { decodeEntry, encodeRecords, type RecordToEncode } from '../src/codec/index.js';
import { MetricsHub } from '../src/observability/metrics/metrics-hub.js';
import { WorkerMetrics } from '../src/runtime/worker/processor-metrics.js';
import { fromLabelledSnapshot } from '../src/observability/metrics/labelled-snapshot.js';
import { injectTraceContext, startSpan } from '../src/observability/tracing/tracing.js';
import { createDashboard, DeadLetterRing, StatsSampler, startObservabilityServer } from '../src/observability/index.js';
import { parseDeadLetter } from '../src/runtime/coordinator/dead-letter.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '0.5' }, rounds: { type: 'string', default: '5' }, variant: { type: 'string' } } });
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const BATCH = 64;

const payload = JSON.stringify({ id: 'order-1', customer: { id: 42, name: 'Ada Lovelace', tier: 'gold' }, items: [{ sku: 'A-1', qty: 2, price: 9.99 }, { sku: 'B-7', qty: 1, price: 120 }], note: 'leave at the door' });

interface Variant { name: string; metrics: boolean; tracing: boolean; sdk: false | 'all' | 'ratio'; dashboard?: boolean }
const VARIANTS: Variant[] = [
  { name: 'off', metrics: false, tracing: false, sdk: false },
  { name: 'metrics', metrics: true, tracing: false, sdk: false },
  { name: 'tracing (API, no SDK)', metrics: false, tracing: true, sdk: false },
  { name: 'metrics + tracing (no SDK)', metrics: true, tracing: true, sdk: false },
  { name: 'metrics + tracing (SDK, 1% sampled)', metrics: true, tracing: true, sdk: 'ratio' },
  { name: 'metrics + tracing (SDK, every span)', metrics: true, tracing: true, sdk: 'all' },
  // The dashboard served, sampling 10x as often as it does in a run (every 100 ms, so the
  // figure is an upper bound), with a page's event stream open in another process.
  { name: 'metrics + dashboard (SSE client connected)', metrics: true, tracing: false, sdk: false, dashboard: true },
];

/**
 * Serves the dashboard over `hub` (as `run` does) and connects a Server-Sent
 * Events client from another process (a browser tab is another process too:
 * its CPU is not the pipeline's). Returns the function that stops both.
 */
async function startDashboard(hub: MetricsHub, intervalMs = 100): Promise<() => Promise<void>> {
  const ring = new DeadLetterRing({ parse: parseDeadLetter });
  const sampler = new StatsSampler({
    progress: () => hub.progress(),
    processors: () => ({ parse: { processed: 0, retries: 0, deadLettered: 0 } }),
    pending: () => ({ parse: 0 }),
    latency: () => hub.processingLatency(),
    partitionLag: () => hub.sourcePartitionLag(),
  }, { intervalMs });
  // A source in 16 partitions, as a run of instance 1 of 2 sees it: each frame carries their lag.
  for (let p = 0; p < 16; p++) hub.setSourcePartitionLag('orders', p, 1_000 + p);
  sampler.start();
  const topology = {
    app: 'bench', nodes: [], edges: [], stores: [], instance: { id: '1', index: 1, count: 2 },
    partitioned: [{ kind: 'source' as const, name: 'orders', topic: 'orders', partitions: 16, owned: [1, 3, 5, 7, 9, 11, 13, 15] }],
  };
  const dashboard = createDashboard({ topology, sampler, deadLetters: ring, replay: async () => ({ replayed: {}, results: [] }) });
  const server = await startObservabilityServer({ port: 0, metrics: hub, routes: dashboard.routes });
  const client = spawn(process.execPath, ['-e', `fetch('http://${server.address}/api/events').then(async (r) => { for await (const _ of r.body) process.stdout.write('.'); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Measure only once the stream is open (its first event arrived).
  await new Promise<void>((resolve) => client.stdout.once('data', () => resolve()));
  return async () => {
    client.kill();
    sampler.stop();
    dashboard.close();
    await server.close();
  };
}

/** An exporter that drops spans: measures span creation, not export I/O. */
class DropExporter implements SpanExporter {
  export(_spans: ReadableSpan[], done: (r: { code: 0 }) => void): void { done({ code: 0 }); }
  async shutdown(): Promise<void> {}
}

/** One source entry as the pipeline reads it: a 64-record envelope batch. */
const inputEntry = encodeRecords(Array.from({ length: BATCH }, (_, i) => ({
  value: Buffer.from(payload.replace('order-1', `order-${i}`)),
  key: `customer-${i % 7}`,
  headers: { 'content-type': 'application/json', 'correlation-id': `c-${i}` },
})));

const preDecoded = decodeEntry(inputEntry);
const preEncoded = Buffer.from(JSON.stringify({ total: 1 }));

/**
 * `work` false runs the same loop with the pipeline work stripped out (no
 * decode, JSON or encode): what remains is the cost of the hooks themselves,
 * which is far less sensitive to noise from other processes.
 */
async function runFor(variant: Variant, seconds: number, work = true, hub = new MetricsHub({ processMetrics: false })): Promise<number> {
  // The runtime's own ctx.metrics, converted and merged as the coordinator does with each result.
  const worker = new WorkerMetrics();
  const deadline = performance.now() + seconds * 1000;
  // CPU time, not wall time: on a shared machine a descheduled loop would
  // otherwise look slow. (Single-threaded loop; GC threads add a little.)
  const cpuStart = process.cpuUsage();
  let records = 0;
  const durations = new Array<number>(BATCH);
  let sink = 0;
  let yieldAt = performance.now() + 10;
  while (performance.now() < deadline) {
    // Every variant yields to the event loop every 10 ms, as the coordinator does between
    // batches: timers (the dashboard's sampler) and sockets (its event stream) run then.
    if (performance.now() >= yieldAt) {
      await new Promise((resolve) => setImmediate(resolve));
      yieldAt = performance.now() + 10;
    }
    // fetch: decode the entry (what the coordinator does after GET / BATCH_GET)
    let fetchSpan: Span | undefined;
    if (variant.tracing) fetchSpan = startSpan('walrus.fetch', { 'walrus.source': 'orders', 'walrus.batch.size': BATCH });
    const batch = work ? decodeEntry(inputEntry) : preDecoded.map((r) => ({ ...r, headers: { ...r.headers } }));
    if (variant.metrics) hub.recordFetched('orders', batch.length, inputEntry.length);
    // process: one span per record, continuing the record's trace (or the fetch's)
    const outputs: RecordToEncode[] = new Array(batch.length);
    const timestamps = new Array<number>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const record = batch[i]!;
      const started = variant.metrics ? performance.now() : 0;
      let span: Span | undefined;
      if (variant.tracing) {
        if (record.headers.traceparent === undefined) injectTraceContext(fetchSpan!, record.headers);
        span = startSpan('walrus.process', { 'walrus.processor': 'parse', 'walrus.record.id': record.id }, record.headers);
      }
      const order = work
        ? JSON.parse(Buffer.from(record.value).toString('utf8')) as { customer: { tier: string }; items: { qty: number; price: number }[] }
        : { customer: { tier: 'gold' }, items: [] };
      const total = order.items.reduce((s, it) => s + it.qty * it.price, 0);
      const headers = { ...record.headers };
      if (span !== undefined) injectTraceContext(span, headers);
      outputs[i] = { value: work ? Buffer.from(JSON.stringify({ ...order, total })) : preEncoded, key: record.key, headers, timestamp: record.timestamp };
      timestamps[i] = record.timestamp;
      if (variant.metrics) {
        worker.increment('bench_handled_total', 1, { tier: order.customer.tier });
        durations[i] = performance.now() - started;
      }
      span?.end();
    }
    if (variant.metrics) {
      hub.recordProcessed('parse', 'ok', batch.length, durations);
      hub.mergeWorkerSnapshot(1, fromLabelledSnapshot(worker.snapshot(1), '1'));
    }
    fetchSpan?.end();
    // produce: encode the outputs into one sink entry
    const produce = variant.tracing ? startSpan('walrus.produce', { 'walrus.sink': 'accepted', 'walrus.batch.size': outputs.length }, outputs[0]!.headers) : undefined;
    const entry = work ? encodeRecords(outputs) : inputEntry;
    sink += entry.length;
    produce?.end();
    if (variant.metrics) hub.recordEmitted('accepted', outputs.length, { bytes: entry.length, recordTimestamps: timestamps });
    records += batch.length;
  }
  if (sink < 0) console.log(sink);
  const cpu = process.cpuUsage(cpuStart);
  return records / ((cpu.user + cpu.system) / 1e6);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function installSdk(variant: Variant): Promise<void> {
  if (variant.sdk === false) return;
  const sampler = variant.sdk === 'ratio' ? new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.01) }) : undefined;
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new DropExporter())], ...(sampler ? { sampler } : {}) }));
}

/**
 * The dashboard's own CPU, measured directly: the share of one core the
 * process uses per second of wall time with the dashboard served, a page's
 * event stream open and the hub holding a pipeline's series (4 processors,
 * 3 sinks), minus the same process serving /metrics only. Unlike the loop
 * variants this barely depends on other load on the machine: the sampler
 * and the stream cost a fixed amount per second, whatever the record rate.
 */
async function dashboardIdleCost(seconds: number, intervalMs: number): Promise<{ idleMsPerS: number; dashboardMsPerS: number }> {
  const hub = new MetricsHub({ processMetrics: false });
  for (const p of ['parse', 'enrich', 'route', 'revenue']) hub.recordProcessed(p, 'ok', 64, Array.from({ length: 64 }, () => 0.3));
  for (const s of ['accepted', 'review', 'revenue']) hub.recordEmitted(s, 64, { recordTimestamps: [Date.now()] });
  hub.recordFetched('orders', 64);
  const cpuPerSecond = async (): Promise<number> => {
    const start = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const cpu = process.cpuUsage(start);
    return ((cpu.user + cpu.system) / 1000) / ((performance.now() - t0) / 1000);
  };
  // The baseline serves /metrics without the dashboard: the server's own event-loop monitor
  // (a 10 ms timer) is there in both. Warm-up (module loading, the client process starting,
  // first JIT) is not measured.
  const plain = await startObservabilityServer({ port: 0, metrics: hub });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const idleMsPerS = await cpuPerSecond();
  await plain.close();
  const stop = await startDashboard(hub, intervalMs);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const dashboardMsPerS = await cpuPerSecond();
  await stop();
  return { idleMsPerS, dashboardMsPerS };
}

if (values.variant === 'dashboard-idle') {
  const real = await dashboardIdleCost(SECONDS, 1_000);
  const fast = await dashboardIdleCost(SECONDS, 100);
  console.log(JSON.stringify({ real, fast }));
} else if (values.variant !== undefined) {
  // Child mode: one variant in a fresh process, so the JIT state left by
  // other variants (deoptimised call sites, a registered SDK) cannot skew it.
  const variant = VARIANTS.find((v) => v.name === values.variant)!;
  await installSdk(variant);
  const hub = new MetricsHub({ processMetrics: false });
  const stopDashboard = variant.dashboard ? await startDashboard(hub) : undefined;
  await runFor(variant, 0.1, true, hub);
  await runFor(variant, 0.1, false, hub);
  (globalThis as { gc?: () => void }).gc?.();
  const full = await runFor(variant, SECONDS, true, hub);
  (globalThis as { gc?: () => void }).gc?.();
  const hooks = await runFor(variant, SECONDS / 2, false, hub);
  await stopDashboard?.();
  console.log(JSON.stringify({ full, hooks }));
} else {
  const results = new Map<string, { full: number[]; hooks: number[] }>(VARIANTS.map((v) => [v.name, { full: [], hooks: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    // Interleave variants, rotating the order each round, so drift in the
    // machine's load hits them all alike.
    for (let v = 0; v < VARIANTS.length; v++) {
      const variant = VARIANTS[(v + round) % VARIANTS.length]!;
      const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--variant', variant.name, '--seconds', String(SECONDS)], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`variant ${variant.name} failed: ${child.stderr}`);
      const out = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { full: number; hooks: number };
      results.get(variant.name)!.full.push(out.full);
      results.get(variant.name)!.hooks.push(out.hooks);
    }
  }
  const base = median(results.get('off')!.full);
  const hookBase = median(results.get('off')!.hooks);
  console.log(`observability overhead — ${ROUNDS} rounds × ${SECONDS}s per variant (one process each), batch ${BATCH}, medians of records per CPU-second`);
  console.log('hook cost = extra CPU per record in the stripped loop (no pipeline work); share = hook cost / pipeline cost per record with everything off\n');
  console.log('| variant | records/s | ns/record | end-to-end overhead | hook cost ns/record | hook share |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const variant of VARIANTS) {
    const rate = median(results.get(variant.name)!.full);
    const overhead = ((base - rate) / base) * 100;
    const hookNs = 1e9 / median(results.get(variant.name)!.hooks) - 1e9 / hookBase;
    const share = (hookNs / (1e9 / base)) * 100;
    const off = variant.name === 'off';
    console.log(`| ${variant.name} | ${Math.round(rate).toLocaleString('en-US')} | ${Math.round(1e9 / rate)} | ${off ? '—' : `${overhead.toFixed(1)}%`} | ${off ? '—' : Math.round(hookNs)} | ${off ? '—' : `${share.toFixed(1)}%`} |`);
  }
  // The dashboard's fixed cost per second (see dashboardIdleCost), over 5 s windows.
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--variant', 'dashboard-idle', '--seconds', '5'], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`dashboard-idle failed: ${child.stderr}`);
  const { real, fast } = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Record<'real' | 'fast', { idleMsPerS: number; dashboardMsPerS: number }>;
  const row = (name: string, r: { idleMsPerS: number; dashboardMsPerS: number }): string => {
    const extra = r.dashboardMsPerS - r.idleMsPerS;
    return `| ${name} | ${r.idleMsPerS.toFixed(2)} | ${r.dashboardMsPerS.toFixed(2)} | ${extra.toFixed(2)} | ${(extra / 10).toFixed(3)}% |`;
  };
  console.log('\ndashboard served with an event stream open, CPU of the pipeline process per second of wall time (5 s windows)\n');
  console.log('| dashboard sampling | /metrics only ms/s | with dashboard ms/s | dashboard ms/s | share of one core |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(row('every 1 s (as in a run)', real));
  console.log(row('every 100 ms (10x)', fast));
}
