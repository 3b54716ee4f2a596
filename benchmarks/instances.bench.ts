/**
 * One stateful topology run as 1, 2 and 3 instances on this machine
 * (docs/scaling.md): a source in 4 partitions keyed by customer, counted per
 * key in a store with the same 4 partitions (no re-key), each instance a real
 * `walrus-stream run --until-idle --instances k --instance i` process with
 * its own stateDir, against one embedded node (on its own thread in this
 * process). Every case reads the same input (its own topic, filled before
 * the instances start). The first row is the baseline: one instance of the
 * same topology with `partitions: 1` (source and store).
 *
 * Columns:
 *   records/s            input records ÷ the longest instance's run (from its
 *                        summary: fetch to idle, without process start-up)
 *   steady CPU µs/record CPU of all instance processes (every thread) from the
 *                        progress line where each had read a third of its
 *                        records to its exit, ÷ the records read in that span:
 *                        the per-record cost once its threads are warm
 *   CPU µs/record        CPU of all instance processes (every thread) from the
 *                        moment each pipeline runs (its first progress line)
 *                        to its exit, ÷ records: the fixed start-up cost of
 *                        more processes (loading modules, opening stores) is
 *                        not per-record cost
 *   warm-up CPU ms/instance  what an instance's running CPU exceeds its records
 *                        at the steady rate by: a fixed cost per process (V8
 *                        compiling the hot paths of each thread, heaps growing),
 *                        which more instances pay more times over a fixed input
 *   … incl. start-up     the same from process start
 *   node CPU µs/record   the embedded node's (this process's) CPU ÷ records
 *
 * On a 2-core machine throughput is bounded by the cores, not by the instance
 * count: more instances cannot go faster than 2 cores allow. What must hold is
 * that the steady CPU per record does not grow with instances (each record is still
 * fetched, journaled, processed, committed to its partition's store and
 * changelog once).
 *
 *   npm run bench:instances                               # 200,000 records, 3 rounds
 *   BENCH_RECORDS=200000 BENCH_ROUNDS=5 npm run bench:instances
 *   BENCH_JOURNAL_FSYNC=never npm run bench:instances     # without the journal's fsyncs
 *   BENCH_SEQUENTIAL=1 npm run bench:instances            # a case's instances one after the other
 *                                                          (records/s is then that of the slowest alone)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBrokerInWorker } from '../src/broker/index.js';
import { WalrusClient } from '../src/client/index.js';
import { encodeRecords } from '../src/codec/index.js';
import { partitionOfKey, partitionTopic } from '../src/codec/partitioning.js';
import { printTable } from './lib/table.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const KEYS = Number(process.env.BENCH_KEYS ?? 1_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Run a case's instances one after the other instead of at once: their CPU per record without competing for the cores. */
const SEQUENTIAL = process.env.BENCH_SEQUENTIAL === '1';
/** The instances' journal fsync (the default, `always`, syncs each group of fetched entries). */
const JOURNAL_FSYNC = process.env.BENCH_JOURNAL_FSYNC ?? 'always';
const PARTITIONS = 4;
const PER_ENTRY = 50;
const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(root, 'bin', 'walrus-stream.js');
const PROCESSOR = join(root, 'benchmarks', 'processors', 'count-by-key.ts');

// A child runs the CLI in its own process and reports, at exit, the CPU time of that process (all
// threads): in total, since its first progress line (written once the pipeline runs, after start-up),
// and at each progress line with the records read so far (for the steady rate past warm-up).
const CHILD = `process.argv = [process.argv[0], ${JSON.stringify(BIN)}, ...process.argv.slice(1)];
let started;
const samples = [];
const cpuNow = () => { const u = process.cpuUsage(); return u.user + u.system; };
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk, ...rest) => {
  const text = String(chunk);
  if (text.includes('"type":"progress"')) {
    started ??= cpuNow();
    for (const line of text.split('\\n')) {
      if (!line.includes('"type":"progress"')) continue;
      const p = JSON.parse(line);
      samples.push([Object.values(p.fetched ?? {}).reduce((a, n) => a + n, 0) - (p.inFlight ?? 0), cpuNow()]);
    }
  }
  return write(chunk, ...rest);
};
process.on('exit', () => {
  const u = cpuNow();
  write('\\ncpu-us ' + u + ' ' + (u - (started ?? u)) + ' ' + JSON.stringify(samples) + '\\n');
});
await import(${JSON.stringify(`file://${BIN}`)});`;

interface InstanceRun {
  elapsedMs: number; records: number; cpuUs: number; runningCpuUs: number;
  /** CPU (µs) and records of the run's steady part: from the first progress line past a third of its records to the exit. */
  steady: { cpuUs: number; records: number };
}

function runInstance(args: string[]): Promise<InstanceRun> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c; });
  child.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-8_000); });
  return new Promise((resolve, reject) => child.on('exit', (code) => {
    const cpu = /cpu-us (\d+) (\d+) (\[.*\])/.exec(stderr);
    if (code !== 0 || cpu === null) { reject(new Error(`instance exited ${code}: ${stderr}`)); return; }
    const summary = JSON.parse(stdout.trim().split('\n').pop()!) as { elapsedMs: number; sources: Record<string, { records: number }> };
    const records = Object.values(summary.sources).reduce((a, s) => a + s.records, 0);
    const samples = JSON.parse(cpu[3]!) as Array<[number, number]>;
    const from = samples.find(([n]) => n >= records / 3 && n < records);
    const steady = from === undefined ? { cpuUs: Number(cpu[2]), records } : { cpuUs: Number(cpu[1]) - from[1], records: records - from[0] };
    resolve({ elapsedMs: summary.elapsedMs, records, cpuUs: Number(cpu[1]), runningCpuUs: Number(cpu[2]), steady });
  }));
}

async function topology(dir: string, app: string, topic: string, stateDir: string, partitions: number): Promise<string> {
  const file = join(dir, `${app}-${stateDir.split('/').pop()}.yaml`);
  await writeFile(file, `app: ${app}
stateDir: ${stateDir}
workers: 1
sources:
  in: { topic: ${topic}, partitions: ${partitions}, poll: { batchSize: 500 } }
processors:
  count: { module: ${PROCESSOR}, input: in, ordering: key, concurrency: 64, stores: [counts] }
stores:
  counts: { partitions: ${partitions}, fsync: never }
journal: { fsync: ${JOURNAL_FSYNC} }
observability: { logLevel: warn }
`);
  return file;
}

/** Runs `instances` instances of a fresh app over `topic` at once; resolves with each one's figures. */
async function runCase(dir: string, broker: string, app: string, topic: string, instances: number, partitions = PARTITIONS): Promise<InstanceRun[]> {
  const files = await Promise.all(Array.from({ length: instances }, (_, i) => topology(dir, app, topic, join(dir, `${app}-state-${i}`), partitions)));
  const args = (file: string, i: number) => ['run', file, '--nodes', broker, '--until-idle', '--json', '--progress-interval', '100',
    ...(instances > 1 ? ['--instances', String(instances), '--instance', String(i)] : [])];
  if (!SEQUENTIAL) return Promise.all(files.map((file, i) => runInstance(args(file, i))));
  const runs: InstanceRun[] = [];
  for (const [i, file] of files.entries()) runs.push(await runInstance(args(file, i)));
  return runs;
}

async function fill(client: WalrusClient, topic: string, partitions = PARTITIONS): Promise<void> {
  const byPartition = Array.from({ length: partitions }, () => [] as Array<{ key: string; value: Buffer }>);
  for (let i = 0; i < RECORDS; i += 1) {
    const key = `c-${i % KEYS}`;
    byPartition[partitionOfKey(key, partitions)]!.push({ key, value: Buffer.from(JSON.stringify({ i })) });
  }
  for (const [p, records] of byPartition.entries()) {
    const t = partitionTopic(topic, p, partitions);
    await client.register(t);
    const entries: string[] = [];
    for (let i = 0; i < records.length; i += PER_ENTRY) entries.push(encodeRecords(records.slice(i, i + PER_ENTRY)));
    for (let i = 0; i < entries.length; i += 200) await client.putMany(t, entries.slice(i, i + 200));
  }
}

const dir = await mkdtemp(join(tmpdir(), 'bench-instances-'));
const broker = await startBrokerInWorker({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'node'), fsync: 'never' });
const client = new WalrusClient({ nodes: [broker.address] });
try {
  // Rounds interleave the instance counts, so load from elsewhere on the machine hits them alike; the median round is shown.
  const samples = new Map<number, Array<Record<string, string | number>>>();
  for (let round = 1; round <= ROUNDS; round += 1) {
    // 0: the baseline, one instance of the same topology unpartitioned (partitions: 1).
    for (const instances of [0, 1, 2, 3]) {
      const topic = `in-${instances}-${round}`;
      const partitions = instances === 0 ? 1 : PARTITIONS;
      await fill(client, topic, partitions);
      const nodeBefore = process.cpuUsage();
      const runs = await runCase(dir, broker.address, `app${instances}r${round}`, topic, Math.max(1, instances), partitions);
      const node = process.cpuUsage(nodeBefore);
      const records = runs.reduce((a, r) => a + r.records, 0);
      if (records !== RECORDS) throw new Error(`${instances} instance(s) processed ${records} records, expected ${RECORDS}`);
      const longest = Math.max(...runs.map((r) => r.elapsedMs));
      const cpu = runs.reduce((a, r) => a + r.cpuUs, 0);
      const running = runs.reduce((a, r) => a + r.runningCpuUs, 0);
      const steady = runs.reduce((a, r) => ({ cpuUs: a.cpuUs + r.steady.cpuUs, records: a.records + r.steady.records }), { cpuUs: 0, records: 0 });
      const list = samples.get(instances) ?? samples.set(instances, []).get(instances)!;
      list.push({
        instances: instances === 0 ? '1, unpartitioned' : instances, records, 'records/s': Math.round(records / (longest / 1000)),
        'per instance': runs.map((r) => r.records).join(' / '),
        'steady CPU µs/record': Number((steady.cpuUs / steady.records).toFixed(1)),
        'CPU µs/record': Number((running / records).toFixed(1)),
        // What the run cost beyond its records at the steady rate, per instance: JIT and heap warm-up of its threads.
        'warm-up CPU ms/instance': Math.round((running - (steady.cpuUs / steady.records) * records) / 1000 / runs.length),
        'CPU µs/record incl. start-up': Number((cpu / records).toFixed(1)),
        'node CPU µs/record': Number(((node.user + node.system) / records).toFixed(1)),
      });
    }
  }
  const median = (list: Array<Record<string, string | number>>) => [...list].sort((a, b) => Number(a['steady CPU µs/record']) - Number(b['steady CPU µs/record']))[Math.floor(list.length / 2)]!;
  const rows = [...samples.values()].map((list) => ({
    ...median(list), 'steady CPU µs/record, each round': list.map((r) => r['steady CPU µs/record']).join(' / '),
  }));
  // The fixed cost of a running instance with nothing to read (idle polls, --until-idle, shutdown): part of each instance's running CPU.
  for (let p = 0; p < PARTITIONS; p += 1) await client.register(`idle.p${p}`);
  const idle = (await runCase(dir, broker.address, 'idle', 'idle', 1))[0]!;
  printTable(`instances: count by key, ${RECORDS.toLocaleString('en-US')} records over ${KEYS} keys, ${PARTITIONS} partitions, journal fsync ${JOURNAL_FSYNC}${SEQUENTIAL ? ', instances one after the other' : ''} (median of ${ROUNDS} round(s) by steady CPU µs/record; ` +
    `an instance with an empty input: ${Math.round(idle.runningCpuUs / 1000)} ms CPU running, ${Math.round(idle.cpuUs / 1000)} ms in all)`, rows);
  process.stdout.write('On 2 cores, throughput is bounded by the cores whatever the instance count; steady CPU µs/record must not grow with instances; each instance adds a fixed warm-up (last column).\n');
} finally {
  await client.close();
  await broker.close();
  await rm(dir, { recursive: true, force: true });
}
