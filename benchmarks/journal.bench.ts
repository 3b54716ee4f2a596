/**
 * Journal benchmark: appends/s and releases/s by fsync mode, entry size and
 * batch size (items per call), group commit under concurrent callers, and
 * recovery time with 10k unreleased entries; then the pipeline (embedded
 * node, 2 workers, a doubling processor) with the journal on and off, and
 * its restart after a crash that left 10k records unreleased.
 *
 *   npm run bench:journal            # ~0.5 s per row
 *   BENCH_MS=2000 npm run bench:journal
 *
 * Figures are noisy on a shared machine; compare rows of one run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker } from '../src/broker/index.js';
import { WalrusClient } from '../src/client/index.js';
import { encodeRecords } from '../src/codec/index.js';
import { Journal, type JournalFsync } from '../src/journal/index.js';
import { startPipeline } from '../src/runtime/pipeline/pipeline.js';
import { loadTopologyText } from '../src/topology/index.js';

const BENCH_MS = Number(process.env.BENCH_MS ?? 500);

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-bench-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Row {
  [column: string]: string;
}

function table(title: string, rows: Row[]): void {
  const columns = Object.keys(rows[0]!);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padStart(widths[i]!)).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(columns));
  console.log(`|${widths.map((w) => '-'.repeat(w + 1) + ':').join('|')}|`);
  for (const row of rows) console.log(line(columns.map((c) => row[c]!)));
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Appends for BENCH_MS with `callers` concurrent loops of `batch` items each, then releases everything the same way. */
async function throughput(fsync: JournalFsync, entryBytes: number, batch: number, callers: number): Promise<Row> {
  return withDir(async (dir) => {
    const journal = await Journal.open({ dir, fsync });
    const entry = Buffer.alloc(entryBytes, 97);
    const items = Array.from({ length: batch }, () => ({ source: 'orders', entry }));
    const seqs: number[][] = [];
    const appendStart = performance.now();
    const deadline = appendStart + BENCH_MS;
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (performance.now() < deadline) seqs.push(await journal.append(items));
      }),
    );
    const appendMs = performance.now() - appendStart;
    const appended = seqs.length * batch;
    const writes = journal.stats().writes;
    const releaseStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (next < seqs.length) await journal.release(seqs[next++]!);
      }),
    );
    const releaseMs = performance.now() - releaseStart;
    await journal.close();
    return {
      fsync,
      entry: `${entryBytes} B`,
      'items/call': String(batch),
      callers: String(callers),
      'appends/s': fmt((appended / appendMs) * 1000),
      'MB/s': ((appended * entryBytes) / appendMs / 1000).toFixed(1),
      'items/write': (appended / writes).toFixed(1),
      'releases/s': fmt((appended / releaseMs) * 1000),
    };
  });
}

async function recovery(entryBytes: number, unreleased: number): Promise<Row> {
  return withDir(async (dir) => {
    const writer = await Journal.open({ dir, fsync: 'never' });
    const entry = Buffer.alloc(entryBytes, 98);
    for (let i = 0; i < unreleased; i += 256) {
      const seqs = await writer.append(Array.from({ length: 256 }, () => ({ source: 'orders', entry })));
      // Interleave released traffic so recovery also has RELEASE records to apply.
      const released = await writer.append(Array.from({ length: 256 }, () => ({ source: 'orders', entry })));
      await writer.release(released);
      void seqs;
    }
    const { bytes, segments } = writer.stats();
    await writer.close();
    const started = performance.now();
    const journal = await Journal.open({ dir });
    const found = journal.unreleased().length;
    const ms = performance.now() - started;
    await journal.close();
    return {
      entry: `${entryBytes} B`,
      unreleased: fmt(found),
      'journal size': `${(bytes / 1024 / 1024).toFixed(1)} MiB`,
      segments: String(segments),
      'open + recover': `${ms.toFixed(0)} ms`,
    };
  });
}

const rows: Row[] = [];
for (const fsync of ['always', 'never'] as const) {
  for (const entryBytes of [100, 1024]) {
    for (const batch of [1, 64, 256]) rows.push(await throughput(fsync, entryBytes, batch, 1));
  }
}
table(`Sequential append/release (one caller), ${BENCH_MS} ms per row`, rows);

const group: Row[] = [];
for (const callers of [1, 16, 64]) group.push(await throughput('always', 1024, 1, callers));
table('Group commit: concurrent single-item appends, fsync always (group commit), 1 KiB entries', group);

table('Recovery', [await recovery(100, 10_000), await recovery(1024, 10_000)]);

// -- the pipeline with the journal on and off ------------------------------------------------

const PIPELINE_RECORDS = Number(process.env.BENCH_PIPELINE_RECORDS ?? 20_000);
const processorsDir = fileURLToPath(new URL('../test/fixtures/processors/', import.meta.url));
const topologyYaml = (stateDir: string) => `
app: bench
stateDir: ${stateDir}
workers: 2
sources:
  in: { topic: in, poll: { batchSize: 500, minInterval: 1ms, maxInterval: 5ms } }
processors:
  double: { module: ./double.ts, input: in, batchSize: 64, concurrency: 256 }
sinks:
  out: { topic: out, input: double }
`;
const entryFor = (i: number) => encodeRecords([{ value: Buffer.from(JSON.stringify({ n: i, pad: 'x'.repeat(60) })), key: `k\${i % 64}` }]);

/** Seeds `records` one-record entries (as most Walrus producers write them), runs the pipeline until idle. */
async function pipelineRun(journal: boolean, records: number, prepare?: (stateDir: string) => Promise<void>) {
  return withDir(async (dir) => {
    const node = await startBroker({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'node'), fsync: 'never' });
    const client = new WalrusClient({ nodes: [node.address] });
    try {
      await client.register('in');
      for (let i = 0; i < records; i += 1000) {
        await client.putMany('in', Array.from({ length: Math.min(1000, records - i) }, (_, j) => entryFor(i + j)));
      }
      await prepare?.(join(dir, 'state'));
      const { topology } = await loadTopologyText(topologyYaml(join(dir, 'state')), join(processorsDir, 'topology.yaml'));
      const started = performance.now();
      const pipeline = await startPipeline(topology, { nodes: [node.address], untilIdle: true, journal });
      const summary = await pipeline.done;
      return { ms: performance.now() - started, summary };
    } finally {
      await client.close();
      await node.close();
    }
  });
}

const pipelineRows: Row[] = [];
const runs: Record<string, number[]> = { on: [], off: [] };
for (let round = 0; round < 3; round += 1) {
  for (const journal of [false, true]) runs[journal ? 'on' : 'off']!.push((await pipelineRun(journal, PIPELINE_RECORDS)).ms);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const mode of ['off', 'on'] as const) {
  const ms = median(runs[mode]!);
  pipelineRows.push({ journal: mode, records: fmt(PIPELINE_RECORDS), 'median ms (3 runs)': fmt(ms), 'records/s': fmt((PIPELINE_RECORDS / ms) * 1000) });
}
const cost = (median(runs.on!) / median(runs.off!) - 1) * 100;
table(`Pipeline, journal off vs on (fsync always): cost ${cost.toFixed(1)}% (budget ≤ 15%)`, pipelineRows);

// A crash left 10k fetched records unreleased in the journal (the source topic itself is empty):
// time from start to all of them processed and released.
const crashed = await pipelineRun(true, 0, async (stateDir) => {
  const journal = await Journal.open({ dir: join(stateDir, 'bench', 'journal') });
  for (let i = 0; i < 10_000; i += 500) {
    await journal.append(Array.from({ length: 500 }, (_, j) => ({ source: 'in', entry: Buffer.from(entryFor(i + j)) })));
  }
  await journal.close();
});
// The same start with nothing to recover: worker threads, module loading, first empty polls.
const empty = await pipelineRun(true, 0);
table('Pipeline restart after a crash with 10k unreleased records', [{
  recovered: fmt(crashed.summary.recovered),
  processed: fmt(crashed.summary.processors.double?.processed ?? 0),
  'start → all reprocessed': `${fmt(crashed.ms)} ms`,
  'same start, nothing to recover': `${fmt(empty.ms)} ms`,
}]);
