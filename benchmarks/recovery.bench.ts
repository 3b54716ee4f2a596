/**
 * What crash protection costs and how fast a crash is recovered:
 *   (1) the pipeline with the journal on vs off (trivial processor, 2
 *       workers, leases in both), interleaved rounds so machine load drifts
 *       hit both alike; records/s and CPU µs/record, medians;
 *   (2) recovery after a crash that left 10,000 records unreleased in the
 *       journal (100 envelope entries of 100 records, as a kill -9 leaves
 *       them): `startPipeline` → idle, versus the same start with an empty
 *       journal; and the journal open (scan + verify) alone.
 * `BENCH_SCALE=0.2 npm run bench:recovery` for a quick run; `BENCH_FSYNC=never`
 * (or `always`) sets the journal's fsync policy (default `batch`). Figures are noisy
 * on a shared machine: compare rows of one run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBrokerInWorker } from '../src/broker/index.js';
import { WalrusClient } from '../src/client/index.js';
import { EntryPacker, encodeRecords } from '../src/codec/index.js';
import { Journal } from '../src/journal/index.js';
import { maxPayloadBytes } from '../src/protocol/index.js';
import { startPipeline } from '../src/runtime/pipeline/pipeline.js';
import { loadTopologyText } from '../src/topology/index.js';
import { printTable } from './lib/table.js';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const here = fileURLToPath(new URL('.', import.meta.url));
const value = (i: number) => Buffer.from(JSON.stringify({ orderId: `o-${i}`, customerId: `c-${i % 500}`, amount: i % 1000, currency: 'EUR' }));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function withNode<T>(fn: (client: WalrusClient, address: string, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-bench-recovery-'));
  const node = await startBrokerInWorker({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'node'), fsync: 'never' });
  const client = new WalrusClient({ nodes: [node.address] });
  try {
    return await fn(client, node.address, dir);
  } finally {
    await client.close();
    await node.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const topologyYaml = (dir: string) => `
app: bench
stateDir: ${dir}/state
workers: 2
sources:
  in: { topic: bench.in, poll: { batchSize: 2000 } }
processors:
  p: { module: ./processors/echo.ts, input: in, batchSize: 256, concurrency: 4 }
sinks:
  out: { topic: bench.out, input: p, batch: { maxRecords: 2000, linger: 2ms } }
observability: { logLevel: warn }
journal: { fsync: ${process.env.BENCH_FSYNC ?? 'always'} }
`;

async function throughput(n: number, journal: boolean): Promise<{ rate: number; cpu: number }> {
  return withNode(async (client, address, dir) => {
    await client.register('bench.in');
    const packer = new EntryPacker({ limit: maxPayloadBytes('bench.in'), topic: 'bench.in' });
    for (let i = 0; i < n; i += 10_000) {
      await client.putMany('bench.in', packer.pack(Array.from({ length: Math.min(10_000, n - i) }, (_, j) => ({ value: value(i + j) }))));
    }
    const { topology } = await loadTopologyText(topologyYaml(dir), join(here, 'recovery.yaml'));
    const pipeline = await startPipeline(topology, { nodes: [address], untilIdle: true, journal, metrics: undefined, tracing: false });
    const cpu = process.cpuUsage();
    const summary = await pipeline.done;
    const used = process.cpuUsage(cpu);
    if (summary.sinks.out.records !== n) throw new Error(`expected ${n} records in the sink, got ${summary.sinks.out.records}`);
    return { rate: n / (summary.elapsedMs / 1000), cpu: (used.user + used.system) / n };
  });
}

/** Start → idle with `unreleased` records left in the journal by a "crash" (0 = a clean start). */
async function recovery(unreleased: number): Promise<{ totalMs: number; openMs: number }> {
  return withNode(async (client, address, dir) => {
    await client.register('bench.in');
    const { topology } = await loadTopologyText(topologyYaml(dir), join(here, 'recovery.yaml'));
    const journalDir = join(dir, 'state', 'bench', 'journal');
    const journal = await Journal.open({ dir: journalDir });
    for (let i = 0; i < unreleased; i += 100) {
      await journal.append([{ source: 'in', entry: Buffer.from(encodeRecords(Array.from({ length: 100 }, (_, j) => ({ value: value(i + j) })))) }]);
    }
    await journal.close();
    let started = performance.now();
    const probe = await Journal.open({ dir: journalDir });
    const openMs = performance.now() - started;
    if (probe.unreleased().length !== unreleased / 100) throw new Error('journal does not hold the crash leftovers');
    await probe.close();
    started = performance.now();
    const pipeline = await startPipeline(topology, { nodes: [address], untilIdle: true, tracing: false });
    const summary = await pipeline.done;
    const totalMs = performance.now() - started;
    if (summary.recovered !== unreleased || summary.sinks.out.records !== unreleased) {
      throw new Error(`recovered ${summary.recovered}, sunk ${summary.sinks.out.records}, expected ${unreleased}`);
    }
    return { totalMs, openMs };
  });
}

const n = Math.round(200_000 * scale);
const on: Array<{ rate: number; cpu: number }> = [];
const off: Array<{ rate: number; cpu: number }> = [];
for (let r = 0; r < rounds; r++) {
  off.push(await throughput(n, false));
  on.push(await throughput(n, true));
}
const row = (label: string, xs: Array<{ rate: number; cpu: number }>) => ({
  case: label, records: n, rounds, 'records/s (median)': Math.round(median(xs.map((x) => x.rate))),
  'records/s (each)': xs.map((x) => Math.round(x.rate)).join(' / '), 'CPU µs/record (median)': Number(median(xs.map((x) => x.cpu)).toFixed(1)),
});
const offRow = row('journal off (leases acked after release)', off);
const onRow = row(`journal on (fsync ${process.env.BENCH_FSYNC ?? 'always'})`, on);
const cost = 1 - (onRow['records/s (median)'] / offRow['records/s (median)']);
printTable('journal cost (trivial processor, 2 workers)', [offRow, onRow,
  { case: `throughput cost of the journal: ${(cost * 100).toFixed(1)}% (target ≤ 15%)` }]);

const clean: number[] = [];
const crashed: Array<{ totalMs: number; openMs: number }> = [];
for (let r = 0; r < rounds; r++) {
  clean.push((await recovery(0)).totalMs);
  crashed.push(await recovery(10_000));
}
const cleanMs = median(clean);
const crashMs = median(crashed.map((c) => c.totalMs));
printTable('recovery after a crash with 10,000 unreleased records', [
  { case: 'start → idle, empty journal', 'ms (median)': Math.round(cleanMs), 'ms (each)': clean.map(Math.round).join(' / ') },
  { case: 'start → idle, 10,000 records unreleased', 'ms (median)': Math.round(crashMs), 'ms (each)': crashed.map((c) => Math.round(c.totalMs)).join(' / ') },
  { case: 'recovery time (difference)', 'ms (median)': Math.round(crashMs - cleanMs) },
  { case: 'journal open (scan + checksums) alone', 'ms (median)': Number(median(crashed.map((c) => c.openMs)).toFixed(1)) },
]);
