/**
 * Records benchmark: producer and consumer throughput against the embedded
 * node, codec throughput without the network, and gzip/brotli ratio and
 * speed on JSON records. Prints a table.
 *
 *   npm run bench:records                 # 1M records
 *   RECORDS=200000 npm run bench:records  # quicker
 *   BROKER=inprocess npm run bench:records  # node in this process (one core for both)
 *
 * The node runs in a child process by default (`walrus-stream broker`,
 * fsync never) so producer and node each get a core, as they would in
 * production. Figures are noisy on a shared machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient, Producer, Consumer } from '../src/client/index.js';
import { EntryPacker, decodeEntry, type RecordToEncode } from '../src/codec/index.js';
import { maxPayloadBytes } from '../src/protocol/index.js';
import { startBroker } from '../src/broker/index.js';

const RECORDS = Number(process.env.RECORDS ?? 1_000_000);
const rows: Array<[string, string, string]> = [];
const row = (what: string, value: string, note = '') => {
  rows.push([what, value, note]);
  console.error(`  ${what}: ${value} ${note}`);
};
/** CPU milliseconds (user + system) of this process since `from`. */
const cpuMs = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1000;
};
const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s`;
const mbps = (bytes: number, ms: number) => `${((bytes / ms) * 1000 / 1e6).toFixed(1)} MB/s`;

async function startNode(dataDir: string): Promise<{ address: string; close: () => Promise<void> }> {
  if (process.env.BROKER === 'inprocess') {
    const node = await startBroker({ host: '127.0.0.1', port: 0, dataDir, fsync: 'never' });
    return { address: node.address, close: () => node.close() };
  }
  const bin = fileURLToPath(new URL('../bin/walrus-stream.js', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [bin, 'broker', '--port', '0', '--data-dir', dataDir, '--fsync', 'never', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Never leave the node running if this process dies first.
  process.once('exit', () => child.kill('SIGKILL'));
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.includes('"listening"'));
      if (line) resolve((JSON.parse(line) as { address: string }).address);
    });
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
  });
  return {
    address,
    close: () => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Produces then consumes RECORDS records, ROUNDS times; reports the best and the median round. */
async function produceConsume(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-bench-'));
  const node = await startNode(dataDir);
  const client = new WalrusClient({ nodes: [node.address] });
  const produced: Array<{ wall: number; cpu: number; entries: number; bytes: number }> = [];
  const consumed: Array<{ wall: number; cpu: number; fetches: number }> = [];
  try {
    const value = Buffer.alloc(100, 'x');
    for (let round = 0; round < ROUNDS; round++) {
      const topic = `bench-${round}`;
      await client.register(topic);
      const producer = new Producer<Uint8Array>(client, {
        topic,
        serializer: 'raw',
        linger: { maxRecords: 20_000, maxBytes: 4 << 20, maxWaitMs: 5 },
        maxInFlight: 2,
        // The loop below sends without awaiting (the fastest a caller can go): the whole run is let in.
        maxBufferedBytes: 1 << 30,
      });
      let t = performance.now();
      let cpu = process.cpuUsage();
      for (let i = 0; i < RECORDS; i++) {
        void producer.send(value);
        // Let writes start while we keep sending (a real app yields too).
        if (i % 50_000 === 49_999) await new Promise((r) => setImmediate(r));
      }
      await producer.close();
      const ps = producer.stats;
      produced.push({ wall: (ps.records / (performance.now() - t)) * 1000, cpu: (ps.records / cpuMs(cpu)) * 1000, entries: ps.entries, bytes: ps.bytes / ((performance.now() - t) / 1000) });

      const consumer = new Consumer<Uint8Array>(client, { topic, serializer: 'raw', bufferSize: 20_000, stopWhenEmpty: true });
      t = performance.now();
      cpu = process.cpuUsage();
      let n = 0;
      let bytes = 0;
      for await (const r of consumer) {
        n++;
        bytes += r.value.length;
      }
      if (n !== RECORDS || bytes !== RECORDS * 100) throw new Error(`consumer read ${n} records (${bytes} bytes), expected ${RECORDS}`);
      consumed.push({ wall: (n / (performance.now() - t)) * 1000, cpu: (n / cpuMs(cpu)) * 1000, fetches: consumer.stats.fetches });
      console.error(`  round ${round + 1}: produce ${Math.round(produced.at(-1)!.wall).toLocaleString('en-US')}/s, consume ${Math.round(consumed.at(-1)!.wall).toLocaleString('en-US')}/s`);
    }
  } finally {
    await client.close();
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  const fmt = (x: number) => `${Math.round(x).toLocaleString('en-US')}/s`;
  const p = produced;
  row(`producer, 100-byte records (best of ${ROUNDS})`, fmt(Math.max(...p.map((x) => x.wall))), `median ${fmt(median(p.map((x) => x.wall)))} · ${fmt(median(p.map((x) => x.cpu)))} per CPU-second of this process · ${(RECORDS / p[0]!.entries).toFixed(0)} records/entry · ${(median(p.map((x) => x.bytes)) / 1e6).toFixed(1)} MB/s on the wire`);
  const c = consumed;
  row(`consumer, 100-byte records (best of ${ROUNDS})`, fmt(Math.max(...c.map((x) => x.wall))), `median ${fmt(median(c.map((x) => x.wall)))} · ${fmt(median(c.map((x) => x.cpu)))} per CPU-second of this process · ${c[0]!.fetches} fetches`);
}

function codecOnly(): void {
  const limit = maxPayloadBytes('bench');
  const value = Buffer.alloc(100, 'x');
  const records: RecordToEncode[] = Array.from({ length: 200_000 }, () => ({ value, timestamp: 1_700_000_000_000 }));
  const packer = new EntryPacker({ limit });
  let t = performance.now();
  const entries = packer.pack(records);
  let ms = performance.now() - t;
  row('codec encode (no network)', rate(records.length, ms), `${entries.length} entries`);
  const buffers = entries.map((e) => Buffer.from(e));
  t = performance.now();
  let n = 0;
  for (const b of buffers) n += decodeEntry(b).length;
  ms = performance.now() - t;
  row('codec decode (no network)', rate(n, ms));
}

function compression(): void {
  const limit = maxPayloadBytes('bench');
  const records: RecordToEncode[] = Array.from({ length: 50_000 }, (_, i) => ({
    value: Buffer.from(JSON.stringify({ orderId: `ord-${100_000 + i}`, customer: `customer-${i % 500}`, status: i % 7 === 0 ? 'cancelled' : 'accepted', total: Math.round(i * 13.7) / 100, currency: 'EUR', items: [{ sku: `sku-${i % 97}`, qty: 1 + (i % 3) }] })),
    timestamp: 1_700_000_000_000 + i,
    id: `order-${i}`,
  }));
  const rawBytes = records.reduce((s, r) => s + r.value.length, 0);
  let plainSize = 0;
  for (const codec of ['none', 'gzip', 'brotli'] as const) {
    const packer = new EntryPacker({ limit, compression: codec, compressionThreshold: 1024, contentType: 'application/json' });
    packer.pack(records.slice(0, 2_000)); // learn the ratio
    const t = performance.now();
    const entries = packer.pack(records);
    const encMs = performance.now() - t;
    const size = entries.reduce((s, e) => s + e.length, 0);
    if (codec === 'none') plainSize = size;
    const buffers = entries.map((e) => Buffer.from(e));
    const d = performance.now();
    let n = 0;
    for (const b of buffers) n += decodeEntry(b).length;
    const decMs = performance.now() - d;
    if (n !== records.length) throw new Error('decode mismatch');
    row(`JSON records, ${codec}`, `${(plainSize / size).toFixed(2)}x smaller`, `encode ${mbps(rawBytes, encMs)} · decode ${mbps(rawBytes, decMs)} of JSON · ${entries.length} entries · ${(records.length / entries.length).toFixed(0)} records/entry`);
  }
}

console.error(`load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')} on ${(await import('node:os')).availableParallelism()} cores`);
console.error(`records benchmark: ${RECORDS.toLocaleString('en-US')} records, node ${process.env.BROKER === 'inprocess' ? 'in process' : 'in a child process'}`);
codecOnly();
compression();
await produceConsume();
const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
console.log(`\n${'what'.padEnd(w0)}  ${'result'.padEnd(w1)}  notes`);
console.log(`${'-'.repeat(w0)}  ${'-'.repeat(w1)}  -----`);
for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
