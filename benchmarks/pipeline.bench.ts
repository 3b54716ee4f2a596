/**
 * End-to-end pipeline throughput: records/s from a pre-loaded source topic to
 * a sink topic through the embedded node, the coordinator (journal on) and
 * the worker pool.
 *   (a) a trivial processor;
 *   (b) a processor burning ~1 ms of CPU per record, 1 worker vs 2 workers;
 *   (c) the floor: the naive loop the seed's .NET client pattern leads to
 *       (GET → process → PUT, one record at a time).
 * `BENCH_SCALE=0.2 npm run bench:pipeline` for a quick run;
 * `BENCH_ONLY=observability` compares case (a) with metrics + tracing on and off. Figures are noisy
 * on a shared machine: compare rows of one run, not runs of different days.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker, startBrokerInWorker } from '../src/broker/index.js';
import { WalrusClient } from '../src/client/index.js';
import { EntryPacker } from '../src/codec/index.js';
import { maxPayloadBytes } from '../src/protocol/index.js';
import { startPipeline } from '../src/runtime/pipeline/pipeline.js';
import { MetricsHub } from '../src/observability/index.js';
import { loadTopologyText } from '../src/topology/index.js';
import { printTable } from './lib/table.js';
import { mainThreadCpuMs } from './lib/cpu.js';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const here = fileURLToPath(new URL('.', import.meta.url));
const value = (i: number) => Buffer.from(JSON.stringify({ orderId: `o-${i}`, customerId: `c-${i % 500}`, amount: i % 1000, currency: 'EUR' }));


async function withNode<T>(fn: (client: WalrusClient, address: string, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-bench-pipeline-'));
  // The node runs on its own thread, as `walrus-stream run` runs it;
  // BENCH_NODE=inline puts it on the coordinator's thread (for comparison).
  const node = await (process.env.BENCH_NODE === 'inline' ? startBroker : startBrokerInWorker)({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'node'), fsync: 'never' });
  const client = new WalrusClient({ nodes: [node.address] });
  try {
    return await fn(client, node.address, dir);
  } finally {
    await client.close();
    await node.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pre-loads `n` JSON records as envelope entries (what a walrus-stream producer writes). */
async function preload(client: WalrusClient, topic: string, n: number): Promise<void> {
  await client.register(topic);
  const packer = new EntryPacker({ limit: maxPayloadBytes(topic), topic });
  for (let i = 0; i < n; i += 10_000) {
    const records = Array.from({ length: Math.min(10_000, n - i) }, (_, j) => ({ value: value(i + j), key: `c-${(i + j) % 500}` }));
    await client.putMany(topic, packer.pack(records));
  }
}

/** Observability of a case: none at all, or a MetricsHub with every built-in series plus spans (no SDK: the default run). */
type Observe = 'off' | 'on';

async function pipelineCase(label: string, n: number, processor: string, workers: number, config = '{}', observe: Observe = 'on'): Promise<Record<string, string | number>> {
  return withNode(async (client, address, dir) => {
    await preload(client, 'bench.in', n);
    const yaml = `
app: bench
stateDir: ${dir}/state
workers: ${workers}
sources:
  in: { topic: bench.in, poll: { batchSize: 2000 } }
processors:
  p: { module: ./processors/${processor}, input: in, batchSize: 256, concurrency: ${Math.max(4, workers * 2)}, config: ${config} }
sinks:
  out: { topic: bench.out, input: p, batch: { maxRecords: 2000, linger: 2ms } }
observability: { logLevel: warn }
`;
    const { topology } = await loadTopologyText(yaml, join(here, 'pipeline.yaml'));
    const metrics = observe === 'on' ? new MetricsHub() : undefined;
    const pipeline = await startPipeline(topology, {
      nodes: [address], untilIdle: true, journal: process.env.BENCH_JOURNAL !== 'off', metrics, tracing: observe === 'on',
    });
    const cpu = process.cpuUsage();
    const mainCpu = mainThreadCpuMs();
    const threads = process.env.BENCH_THREADS ? threadCpuMs() : undefined;
    // Worker threads end before `done` resolves: keep each thread's last reading.
    const lastSeen = new Map<string, number>();
    const sampler = threads && setInterval(() => { for (const [tid, ms] of threadCpuMs()) lastSeen.set(tid, ms); }, 20);
    const summary = await pipeline.done;
    if (sampler) clearInterval(sampler);
    const cpuUs = process.cpuUsage(cpu);
    const mainCpuMs = mainThreadCpuMs() - mainCpu;
    if (threads) printThreadCpuDelta(label, threads, lastSeen, n);
    if (summary.sinks.out.records !== n) throw new Error(`${label}: expected ${n} records in the sink, got ${summary.sinks.out.records}`);
    // Keep the scrape in the measured work's process, and prove the hub saw every record.
    if (metrics && !(await metrics.metrics()).includes(`walrus_stream_records_emitted_total{sink="out"} ${n}`)) {
      throw new Error(`${label}: the metrics scrape does not show ${n} emitted records`);
    }
    return { case: label, workers, records: n, 'seconds': Number((summary.elapsedMs / 1000).toFixed(2)), 'records/s': Math.round(n / (summary.elapsedMs / 1000)),
      // Load-independent cost: CPU per record of the whole process (node,
      // coordinator, workers) and of the coordinator's thread alone.
      'CPU µs/record': Number(((cpuUs.user + cpuUs.system) / n).toFixed(1)),
      'coordinator CPU µs/record': Number(((mainCpuMs * 1000) / n).toFixed(1)) };
  });
}

/** (c): one record at a time, GET → JSON.parse → PUT, plain text entries, like the seed's .NET consumer loop. */
async function naiveCase(n: number): Promise<Record<string, string | number>> {
  return withNode(async (client) => {
    await client.register('naive.in');
    await client.register('naive.out');
    for (let i = 0; i < n; i += 2000) {
      await client.putMany('naive.in', Array.from({ length: Math.min(2000, n - i) }, (_, j) => value(i + j).toString('utf8')));
    }
    const started = performance.now();
    let done = 0;
    for (;;) {
      const entry = await client.get('naive.in');
      if (entry === undefined) break;
      const order = JSON.parse(entry.toString('utf8')) as Record<string, unknown>;
      await client.put('naive.out', JSON.stringify(order));
      done += 1;
    }
    const seconds = (performance.now() - started) / 1000;
    if (done !== n) throw new Error(`naive loop: expected ${n}, did ${done}`);
    return { case: '(c) naive GET → process → PUT loop', workers: 0, records: n, seconds: Number(seconds.toFixed(2)), 'records/s': Math.round(n / seconds) };
  });
}

const only = process.env.BENCH_ONLY;
if (only === 'observability') {
  // Metrics + tracing on vs off, interleaved (off, on, off, on, ...) so load
  // drifts on a shared machine hit both alike; medians compared.
  const n = Math.round(200_000 * scale);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const runs: Record<string, string | number>[] = [];
  for (let i = 0; i < rounds; i++) {
    runs.push(await pipelineCase('(a) observability off', n, 'echo.ts', 2, '{}', 'off'));
    runs.push(await pipelineCase('(a) metrics + tracing on', n, 'echo.ts', 2, '{}', 'on'));
  }
  printTable(`observability overhead, case (a) (${availableParallelism()} cores; BENCH_SCALE=${scale}; ${rounds} rounds)`, runs);
  const median = (label: string, key: string) => {
    const xs = runs.filter((r) => r.case === label).map((r) => r[key] as number).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)]!;
  };
  const [offRate, onRate] = ['(a) observability off', '(a) metrics + tracing on'].map((l) => median(l, 'records/s'));
  const [offCpu, onCpu] = ['(a) observability off', '(a) metrics + tracing on'].map((l) => median(l, 'CPU µs/record'));
  process.stdout.write(`median throughput: off ${offRate}, on ${onRate} records/s → overhead ${(((offRate - onRate) / offRate) * 100).toFixed(1)} % (target ≤ 5 %)\n`);
  process.stdout.write(`median CPU/record: off ${offCpu}, on ${onCpu} µs → ${(((onCpu - offCpu) / offCpu) * 100).toFixed(1)} %\n`);
  process.exit(0);
}
if (only === 'a') {
  printTable('only (a)', [await pipelineCase('(a) trivial processor', Math.round(200_000 * scale), 'echo.ts', 2)]);
  if (process.env.BENCH_THREADS) printThreadCpu();
  process.exit(0);
}

/** CPU ms of each thread of this process (Linux; empty elsewhere). */
function threadCpuMs(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, (Number(fields[11]) + Number(fields[12])) * 10);
    }
  } catch { /* not Linux */ }
  return out;
}

/** `BENCH_THREADS=1`: CPU µs per record of each thread during one case (main = the coordinator). */
function printThreadCpuDelta(label: string, before: Map<string, number>, lastSeen: Map<string, number>, n: number): void {
  for (const [tid, ms] of threadCpuMs()) lastSeen.set(tid, ms);
  const rows = [...lastSeen].map(([tid, ms]) => ({ tid, ms: ms - (before.get(tid) ?? 0) })).filter((t) => t.ms > 0).sort((a, b) => b.ms - a.ms);
  const parts = rows.map((t) => `${t.tid === String(process.pid) ? 'main' : t.tid} ${((t.ms * 1000) / n).toFixed(1)}`);
  process.stdout.write(`${label}: CPU µs/record per thread: ${parts.join(', ')}\n`);
}

/** CPU ms per thread of this process (Linux), to see where the time goes. */
function printThreadCpu(): void {
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(fields[11]) + Number(fields[12])) * 10;
    if (ms > 50) process.stdout.write(`thread ${tid} ${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}: ${ms} ms\n`);
  }
}
const rows: Record<string, string | number>[] = [];
const nTrivial = Math.round(200_000 * scale);
const nCpu = Math.round(3_000 * scale);
rows.push(await pipelineCase('(a) trivial processor', nTrivial, 'echo.ts', 2));
rows.push(await pipelineCase('(b) 1 ms CPU/record', nCpu, 'burn.ts', 1, '{ ms: 1 }'));
rows.push(await pipelineCase('(b) 1 ms CPU/record', nCpu, 'burn.ts', 2, '{ ms: 1 }'));
rows.push(await naiveCase(Math.round(10_000 * scale)));
printTable(`pipeline end to end (embedded node, journal on; ${availableParallelism()} cores; BENCH_SCALE=${scale})`, rows);
const [a, b1, b2, c] = rows.map((r) => r['records/s'] as number);
process.stdout.write(`(a) trivial vs naive loop: ${(a / c).toFixed(1)}× (target ≥ 10×, and ≥ 100,000 records/s)\n`);
process.stdout.write(`(b) 2 workers vs 1 worker: ${(b2 / b1).toFixed(2)}× (target ≥ 1.8×)\n`);
