/**
 * End-to-end pipeline throughput: records/s from a pre-loaded source topic to
 * the sinks through the embedded node (in this process, on its own thread),
 * the coordinator (journal on) and the worker pool — each case in a process
 * of its own (benchmarks/lib/pipeline-case.mjs: the built package in a plain `node`, as `walrus-stream run` runs), so its CPU and peak RSS are
 * its own:
 *   (a) a trivial processor, tuned batch settings, and the same with the
 *       topology's defaults;
 *   (d) the bundled example (topology.yaml: parse → enrich → route + revenue
 *       windowed aggregate, three sinks, dead letters) on generated orders;
 *   (e) a chain of 4 key-preserving trivial processors in `ordering: key`;
 *   (f) a chain of 3 processors each doing ~1 ms of fixed CPU work (a
 *       calibrated loop count), 1 worker vs 2 workers;
 *   (c) the floor: the naive loop the seed's .NET client pattern leads to
 *       (GET → process → PUT, one record at a time).
 *   (g) the floor of (d): the example's four processors called directly in
 *       this thread, no framework (lib/example-floor.ts); its CPU column is
 *       what the example's own code costs per order.
 * Columns: records/s; CPU µs per input record of the coordinator thread and
 * of the worker threads; peak RSS of the case's process. The ratios the
 * stage-groups work targets are printed at the end.
 * `BENCH_SCALE=0.2 npm run bench:pipeline` for a quick run;
 * `BENCH_WORKERS=1` runs (a), (d) and (e) on 1 worker thread instead of 2;
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
import { orderLines, invalidOrders } from './lib/orders.js';
import { execFileSync } from 'node:child_process';
import { mainThreadCpuMs } from './lib/cpu.js';
import { runExampleDirectly } from './lib/example-floor.js';
import { parse as parseYaml } from 'yaml';

const scale = Number(process.env.BENCH_SCALE ?? 1);
// The cases run the built package (dist/): build it if the sources are newer.
if (!process.env.BENCH_FROM_SOURCE) execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build.mjs', import.meta.url)), '--if-stale'], { stdio: 'inherit' });
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

/**
 * (g): the floor of (d), its processors called directly in this thread
 * (lib/example-floor.ts), after a warm-up: the CPU per order of the example's
 * own code, which no runtime saves.
 */
function floorCase(n: number): Record<string, string | number> {
  const example = parseYaml(readFileSync(new URL('../topology.yaml', import.meta.url), 'utf8')) as { processors: Record<string, { config?: unknown }> };
  const config = { enrich: example.processors.enrich!.config, route: example.processors.route!.config };
  runExampleDirectly(orderLines(Math.min(n, 20_000), 7), config);
  const r = runExampleDirectly(orderLines(n), config);
  if (r.deadLettered !== invalidOrders(n)) throw new Error(`floor: expected ${invalidOrders(n)} dead letters, got ${r.deadLettered}`);
  return {
    case: "(g) (d)'s processors called directly", workers: 0, records: n, seconds: Number((r.elapsedMs / 1000).toFixed(2)),
    'records/s': Math.round(n / (r.elapsedMs / 1000)), 'coordinator CPU µs/record': Number(((r.cpuMs * 1000) / n).toFixed(1)),
  };
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

/** Iterations of fixed-work.ts's hash loop that take ~1 ms on this machine (median of a few timings). */
function calibrate(): number {
  const time = (rounds: number) => {
    const t = performance.now();
    let h = 0x811c9dc5;
    for (let i = 0; i < rounds; i++) h = Math.imul(h ^ i, 0x01000193) >>> 0;
    if (h === 0.5) throw new Error('unreachable');
    return performance.now() - t;
  };
  time(2_000_000);
  const perMs = [0, 1, 2, 3, 4].map(() => 2_000_000 / time(2_000_000)).sort((a, b) => a - b)[2]!;
  return Math.round(perMs);
}

interface ChildResult { elapsedMs: number; halfMs: number; sunk: number; mainCpuMs: number; processCpuMs: number; peakRssMiB: number }

/** Runs one case in its own process against a node loaded here. */
async function childCase(label: string, opts: { yaml: string; workers: number; records: number; expectSunk: number; load(client: WalrusClient): Promise<void> }): Promise<Record<string, string | number>> {
  return withNode(async (client, address, dir) => {
    await opts.load(client);
    const spec = { yaml: opts.yaml, address, stateDir: join(dir, 'state'), expectSunk: opts.expectSunk, records: opts.records, workers: opts.workers };
    const out = execFileSync(process.execPath, [
      // BENCH_PROFILE=<dir>: a CPU profile of each case's process (main thread and workers) in <dir>.
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
      ...(process.env.BENCH_FROM_SOURCE ? ['--import', 'tsx'] : []), join(here, 'lib/pipeline-case.mjs'), JSON.stringify(spec)],
      { cwd: join(here, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
    const n = opts.records;
    return {
      case: label, workers: opts.workers, records: n, seconds: Number((r.elapsedMs / 1000).toFixed(2)), 'records/s': Math.round(n / (r.elapsedMs / 1000)),
      'coordinator CPU µs/record': Number(((r.mainCpuMs * 1000) / n).toFixed(1)),
      'worker CPU µs/record': Number((((r.processCpuMs - r.mainCpuMs) * 1000) / n).toFixed(1)),
      'peak RSS MiB': Math.round(r.peakRssMiB),
      // Records count as done when their source entry is released: (f)'s 2,000 records sit in a couple of
      // packed entries, which complete at once, so its halves are not measurable (left blank).
      '2nd half / 1st half': n < 10_000 ? '' : Number((r.halfMs / Math.max(1, r.elapsedMs - r.halfMs)).toFixed(2)),
    };
  });
}

const keyed = async (client: WalrusClient, n: number) => preload(client, 'bench.in', n);
const oneStage = (tuned: boolean) => `
app: bench
stateDir: \${STATE_DIR}
sources:
  in: { topic: bench.in${tuned ? ', poll: { batchSize: 2000 }' : ''} }
processors:
  p: { module: ./processors/echo.ts, input: in${tuned ? ', batchSize: 256, concurrency: 4' : ''} }
sinks:
  out: { topic: bench.out, input: p${tuned ? ', batch: { maxRecords: 2000, linger: 2ms }' : ''} }
observability: { logLevel: warn }
`;
const chain = (stages: number, module: string, ordering: string, config = '{}') => `
app: bench
stateDir: \${STATE_DIR}
sources:
  in: { topic: bench.in }
processors:
${Array.from({ length: stages }, (_, i) => `  p${i + 1}: { module: ./processors/${module}, input: ${i === 0 ? 'in' : `p${i}`}, ordering: ${ordering}, config: ${config} }`).join('\n')}
sinks:
  out: { topic: bench.out, input: p${stages} }
observability: { logLevel: warn }
`;

const rows: Record<string, string | number>[] = [];
const nTrivial = Math.round(200_000 * scale);
const nOrders = Math.round(120_000 * scale);
const nWork = Math.round(2_000 * scale);
const iterations = calibrate();
const only2 = process.env.BENCH_CASES?.split(',');
const want = (c: string) => only2 === undefined || only2.includes(c);
// BENCH_WORKERS=1: cases (a), (d) and (e) with that many worker threads instead of 2 (the 1-vs-2 comparison of docs/pipeline.md).
const workers = Number(process.env.BENCH_WORKERS ?? 2);
if (want('a')) {
  rows.push(await childCase('(a) 1 stage, tuned batches', { yaml: oneStage(true), workers, records: nTrivial, expectSunk: nTrivial, load: (c) => keyed(c, nTrivial) }));
  rows.push(await childCase('(a) 1 stage, default batches', { yaml: oneStage(false), workers, records: nTrivial, expectSunk: nTrivial, load: (c) => keyed(c, nTrivial) }));
}
if (want('e')) rows.push(await childCase('(e) 4 stages, ordering: key', { yaml: chain(4, 'echo.ts', 'key'), workers, records: nTrivial, expectSunk: nTrivial, load: (c) => keyed(c, nTrivial) }));
if (want('d')) {
  rows.push(await childCase('(d) bundled example', {
    yaml: 'example', workers, records: nOrders, expectSunk: nOrders - invalidOrders(nOrders),
    load: async (client) => {
      await client.register('orders');
      const lines = orderLines(nOrders);
      for (let i = 0; i < lines.length; i += 2000) await client.putMany('orders', lines.slice(i, i + 2000));
    },
  }));
}
if (want('g')) rows.push(floorCase(nOrders));
if (want('f')) {
  for (const workers of [1, 2]) {
    rows.push(await childCase('(f) 3 stages × ~1 ms fixed CPU', { yaml: chain(3, 'fixed-work.ts', 'unordered', `{ iterations: ${iterations} }`), workers, records: nWork, expectSunk: nWork, load: (c) => keyed(c, nWork) }));
  }
}
// (h): a key's open windows in the thousands (1 ms windows, 24 h of grace; docs/state.md, "What open windows cost"):
// past REMOTE_AFTER entries a record no longer carries its key's entries; its worker reads what it touches.
if (want('h')) {
  const nWindows = Math.round(40_000 * scale);
  rows.push(await childCase('(h) 10 keys, every 1 ms window open', {
    yaml: `
app: bench
stateDir: \${STATE_DIR}
sources:
  in: { topic: bench.in }
processors:
  w: { module: ./processors/open-windows.ts, input: in, ordering: key, stores: [counts] }
sinks:
  out: { topic: bench.out, input: w }
stores:
  counts: { fsync: never }
observability: { logLevel: warn }
`,
    workers, records: nWindows, expectSunk: nWindows,
    load: async (client) => {
      await client.register('bench.in');
      const packer = new EntryPacker({ limit: maxPayloadBytes('bench.in'), topic: 'bench.in' });
      for (let i = 0; i < nWindows; i += 10_000) {
        const records = Array.from({ length: Math.min(10_000, nWindows - i) }, (_, j) => ({ value: Buffer.from(JSON.stringify({ seq: i + j })), key: `k-${(i + j) % 10}` }));
        await client.putMany('bench.in', packer.pack(records));
      }
    },
  }));
}
if (want('c')) rows.push(await naiveCase(Math.round(10_000 * scale)));
printTable(`pipeline end to end (embedded node, journal on; ${availableParallelism()} cores; BENCH_SCALE=${scale}; fixed work ${iterations} iterations ≈ 1 ms)`, rows);
const rate = (label: string, workers?: number) => rows.find((r) => r.case === label && (workers === undefined || r.workers === workers))?.['records/s'] as number | undefined;
const col = (label: string, key: string) => rows.find((r) => r.case === label)?.[key] as number | undefined;
const ratio = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? 'n/a' : `${(x / y).toFixed(2)}×`);
const a = rate('(a) 1 stage, tuned batches');
const sum = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? undefined : x + y);
process.stdout.write([
  `(e) 4-stage chain vs (a): ${ratio(rate('(e) 4 stages, ordering: key'), a)} (target ≥ 0.7×)`,
  `(d) bundled example vs (a): ${ratio(rate('(d) bundled example'), a)} (target ≥ 0.4×)`,
  `coordinator CPU per record, (e) vs (a): ${ratio(col('(e) 4 stages, ordering: key', 'coordinator CPU µs/record'), col('(a) 1 stage, tuned batches', 'coordinator CPU µs/record'))} (target ≤ 1.5×)`,
  `(f) 2 workers vs 1 worker: ${ratio(rate('(f) 3 stages × ~1 ms fixed CPU', 2), rate('(f) 3 stages × ~1 ms fixed CPU', 1))} (target ≥ 1.8×)`,
  `(a) default batches vs tuned: ${ratio(rate('(a) 1 stage, default batches'), a)} (target ≥ 0.9×)`,
  `(d) second half vs first half: ${col('(d) bundled example', '2nd half / 1st half') ?? 'n/a'}× (target ≥ 0.8×); peak RSS ${col('(d) bundled example', 'peak RSS MiB') ?? 'n/a'} MiB (target ≤ 350)`,
  `(a) vs naive loop: ${ratio(a, rate('(c) naive GET → process → PUT loop'))}`,
  `(d) CPU per order vs its floor (g): ${ratio(sum(col('(d) bundled example', 'coordinator CPU µs/record'), col('(d) bundled example', 'worker CPU µs/record')), col("(g) (d)'s processors called directly", 'coordinator CPU µs/record'))}` +
    ` (coordinator + workers ÷ the processors alone; the node's CPU not counted)`,
  '',
].join('\n'));
