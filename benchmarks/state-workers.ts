/**
 * End-to-end stateful rows for `npm run bench:state`: `walrus-stream run`'s
 * own path (startPipeline, real worker threads, embedded node on its thread)
 * with a stateful count-by-key processor — fetch (leases) → journal → worker
 * (`ctx.state('counts')`) → stage → sink write → state commit (fsync,
 * changelog publish) → journal release — then a restore of that store from
 * its changelog into an empty state dir, the way a new machine starts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBrokerInWorker } from '../src/broker/index.js';
import { WalrusClient } from '../src/client/index.js';
import { EntryPacker } from '../src/codec/index.js';
import { maxPayloadBytes } from '../src/protocol/index.js';
import { startPipeline } from '../src/runtime/pipeline/pipeline.js';
import { RuntimeState } from '../src/runtime/state/runtime-state.js';
import { loadTopologyText } from '../src/topology/index.js';
import { mainThreadCpuMs } from './lib/cpu.js';

const here = fileURLToPath(new URL('.', import.meta.url));
type Row = { [column: string]: string };

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Rows: the count through workers (fsync always and never), and the restore of the store it left. */
export async function throughWorkers(n: number, keys: number, workers: number): Promise<{ run: Row[]; restore: Row[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-state-e2e-'));
  const node = await startBrokerInWorker({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'node'), fsync: 'never' });
  const client = new WalrusClient({ nodes: [node.address] });
  const run: Row[] = [];
  const restore: Row[] = [];
  try {
    for (const fsync of ['never', 'always'] as const) {
      const app = `bench-${fsync}`;
      await client.register('bench.in');
      const packer = new EntryPacker({ limit: maxPayloadBytes('bench.in'), topic: 'bench.in' });
      for (let i = 0; i < n; i += 10_000) {
        const records = Array.from({ length: Math.min(10_000, n - i) }, (_, j) => ({ value: Buffer.from(String(i + j)), key: `c-${(i + j) % keys}` }));
        await client.putMany('bench.in', packer.pack(records));
      }
      const yaml = `
app: ${app}
stateDir: ${dir}/state
workers: ${workers}
sources:
  in: { topic: bench.in, serializer: string, poll: { batchSize: 2000 } }
processors:
  count: { module: ./processors/count-by-key.ts, input: in, ordering: key, stores: [counts], batchSize: 256, concurrency: ${Math.max(4, workers * 2)} }
sinks:
  out: { topic: bench.out.${fsync}, input: count, batch: { maxRecords: 2000, linger: 2ms } }
stores:
  counts: { fsync: ${fsync} }
observability: { logLevel: warn }
`;
      const { topology } = await loadTopologyText(yaml, join(here, 'state.yaml'));
      const pipeline = await startPipeline(topology, { nodes: [node.address], untilIdle: true, tracing: false });
      const cpu = process.cpuUsage();
      const mainCpu = mainThreadCpuMs();
      const summary = await pipeline.done;
      const cpuUs = process.cpuUsage(cpu);
      const mainCpuMs = mainThreadCpuMs() - mainCpu;
      if (summary.sinks.out.records !== n) throw new Error(`expected ${n} records in the sink, got ${summary.sinks.out.records}`);
      run.push({ scenario: `count by key through ${workers} workers, journal + sink + commit + release`, fsync, changelog: 'embedded node',
        records: fmt(n), seconds: (summary.elapsedMs / 1000).toFixed(2), 'records/s': fmt(n / (summary.elapsedMs / 1000)),
        // Load-independent cost: CPU per record of the whole process and of the coordinator's thread alone.
        'CPU µs/record': ((cpuUs.user + cpuUs.system) / n).toFixed(1), 'coordinator CPU µs/record': ((mainCpuMs * 1000) / n).toFixed(1) });

      // A new machine: empty state dir, same changelog.
      await rm(join(dir, 'state', app, 'state'), { recursive: true, force: true });
      const started = performance.now();
      const state = await RuntimeState.open(topology, client);
      const ms = performance.now() - started;
      const store = state!.stores.get('counts')!;
      const total = store.range<number>().reduce((sum, e) => sum + e.value, 0);
      await state!.close();
      if (total !== n) throw new Error(`restored counts add up to ${total}, expected ${n}`);
      restore.push({ source: `changelog of the ${fsync} run (RuntimeState.open on an empty dir)`, keys: fmt(keys), 'records covered': fmt(n), ms: fmt(ms), 'records/s': fmt(n / (ms / 1000)) });
    }
  } finally {
    await client.close();
    await node.close();
    await rm(dir, { recursive: true, force: true });
  }
  return { run, restore };
}
