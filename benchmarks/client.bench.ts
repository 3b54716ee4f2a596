/**
 * Client throughput: sequential (one request at a time, the seed .NET
 * client's pattern) vs pipelined (64 in flight, on one connection and on a
 * pool of 4) vs BATCH commands (and lease + ack against getMany), for
 * 100-byte and 4-KiB entries, against the
 * embedded node in default and stock mode. Run: `npm run bench:client`
 * (`-- --quick` for a short run). Figures are noisy on a shared machine.
 *
 * The node runs in its own process, as a real node would: in one process
 * the client and node share an event loop, which hides round-trip latency
 * (what pipelining saves) and the second core (what it exploits).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../src/client/index.js';

const quick = process.argv.includes('--quick');
const SIZES = [100, 4_096] as const;
const IN_FLIGHT = 64;

interface Row { mode: string; size: string; op: string; pattern: string; ops: number; ms: number }
const rows: Row[] = [];

/** Runs `count` operations with `concurrency` loops, each awaiting its own call. */
async function drive(count: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await op(next++);
  }));
  return performance.now() - started;
}

const BROKER_MODULE = fileURLToPath(new URL('../src/broker/index.ts', import.meta.url));

/** Starts an embedded node in a child process; resolves with its address and a stop function. */
async function startNodeProcess(dataDir: string, compat: 'default' | 'stock'): Promise<{ address: string; close: () => Promise<void> }> {
  const code = `
    const { startBroker } = await import(${JSON.stringify(BROKER_MODULE)});
    const node = await startBroker({ host: '127.0.0.1', port: 0, dataDir: ${JSON.stringify(dataDir)}, compat: ${JSON.stringify(compat)}, fsync: 'never' });
    process.stdout.write(node.address + '\\n');
    process.stdin.on('end', async () => { await node.close(); process.exit(0); });
    process.stdin.resume();`;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  return {
    address: chunk.toString().trim(),
    close: async () => {
      child.stdin!.end();
      await once(child, 'exit');
    },
  };
}

async function scenario(mode: 'default' | 'stock', size: number): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-bench-'));
  const node = await startNodeProcess(dataDir, mode);
  const single = new WalrusClient({ nodes: [node.address], pool: { min: 1, max: 1 } });
  const pooled = new WalrusClient({ nodes: [node.address], pool: { min: 4, max: 4 } });
  const payload = 'x'.repeat(size - 6);
  const scale = (size === 100 ? 1 : 0.25) * (quick ? 0.2 : 1);
  const n = { sequential: Math.round(2_000 * scale), pipelined: Math.round(20_000 * scale), batch: Math.round(40_000 * scale) };
  const label = size === 100 ? '100 B' : '4 KiB';
  const add = (op: string, pattern: string, ops: number, ms: number): void => void rows.push({ mode, size: label, op, pattern, ops, ms });
  const entry = (i: number): string => `${String(i).padStart(6, '0')}${payload}`;
  try {
    for (const t of ['seq', 'pipe1', 'pool', 'batch', 'lease', 'lease4']) await single.register(`${t}-${size}`);
    await pooled.register(`pool-${size}`);
    // Warm up both processes' JIT and the pool before measuring.
    await single.register('warm');
    await drive(2_000, IN_FLIGHT, (i) => pooled.put('warm', entry(i)));
    await drive(2_000, IN_FLIGHT, () => single.get('warm'));

    add('PUT', 'sequential', n.sequential, await drive(n.sequential, 1, (i) => single.put(`seq-${size}`, entry(i))));
    add('PUT', `pipelined ${IN_FLIGHT}, 1 conn`, n.pipelined, await drive(n.pipelined, IN_FLIGHT, (i) => single.put(`pipe1-${size}`, entry(i))));
    add('PUT', `pipelined ${IN_FLIGHT}, pool 4`, n.pipelined, await drive(n.pipelined, IN_FLIGHT, (i) => pooled.put(`pool-${size}`, entry(i))));
    const perBatch = size === 100 ? 500 : 15;
    const batches = Math.ceil(n.batch / perBatch);
    const started = performance.now();
    for (let b = 0; b < batches; b++) await single.putMany(`batch-${size}`, Array.from({ length: perBatch }, (_, i) => entry(b * perBatch + i)));
    add('PUT', `putMany ×${perBatch} (${mode === 'stock' ? 'fallback: pipelined PUT' : 'BATCH_PUT'})`, batches * perBatch, performance.now() - started);

    add('GET', 'sequential', n.sequential, await drive(n.sequential, 1, () => single.get(`seq-${size}`)));
    add('GET', `pipelined ${IN_FLIGHT}, 1 conn`, n.pipelined, await drive(n.pipelined, IN_FLIGHT, () => single.get(`pipe1-${size}`)));
    add('GET', `pipelined ${IN_FLIGHT}, pool 4`, n.pipelined, await drive(n.pipelined, IN_FLIGHT, () => pooled.get(`pool-${size}`)));
    let read = 0;
    const getStarted = performance.now();
    while (read < batches * perBatch) {
      const got = await single.getMany(`batch-${size}`, perBatch);
      if (got.length === 0) throw new Error(`batch-${size} drained after ${read} entries`);
      read += got.length;
    }
    add('GET', `getMany ×${perBatch} (${mode === 'stock' ? 'fallback: pipelined GET' : 'BATCH_GET'})`, read, performance.now() - getStarted);

    // Leases: each batch acknowledged — awaited before the next lease, or
    // with up to 4 acks outstanding (the coordinator's journal pipelining).
    const via = mode === 'stock' ? 'fallback: getMany' : 'BATCH_LEASE+ACK';
    for (const t of ['lease', 'lease4']) {
      for (let b = 0; b < batches; b++) await single.putMany(`${t}-${size}`, Array.from({ length: perBatch }, (_, i) => entry(b * perBatch + i)));
    }
    read = 0;
    const leaseStarted = performance.now();
    while (read < batches * perBatch) {
      const lease = await single.lease(`lease-${size}`, perBatch);
      if (lease.entries.length === 0) throw new Error(`lease-${size} drained after ${read} entries`);
      read += lease.entries.length;
      await lease.ack();
    }
    add('GET', `lease ×${perBatch}, ack awaited (${via})`, read, performance.now() - leaseStarted);
    read = 0;
    const acks = new Set<Promise<void>>();
    const lease4Started = performance.now();
    while (read < batches * perBatch) {
      const lease = await single.lease(`lease4-${size}`, perBatch);
      if (lease.entries.length === 0) throw new Error(`lease4-${size} drained after ${read} entries`);
      read += lease.entries.length;
      const ack = lease.ack().finally(() => acks.delete(ack));
      acks.add(ack);
      if (acks.size >= 4) await Promise.race(acks);
    }
    await Promise.all(acks);
    add('GET', `lease ×${perBatch}, 4 acks in flight (${via})`, read, performance.now() - lease4Started);
  } finally {
    await single.close();
    await pooled.close();
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

for (const mode of ['default', 'stock'] as const) for (const size of SIZES) await scenario(mode, size);

const seq = new Map(rows.filter((r) => r.pattern === 'sequential').map((r) => [`${r.mode}|${r.size}|${r.op}`, r.ops / r.ms]));
const header = ['mode', 'size', 'op', 'pattern', 'ops', 'ops/s', 'MiB/s', '× sequential'];
const table = rows.map((r) => {
  const rate = (r.ops / r.ms) * 1_000;
  const bytes = r.size === '100 B' ? 100 : 4_096;
  return [r.mode, r.size, r.op, r.pattern, String(r.ops), Math.round(rate).toLocaleString('en-US'), ((rate * bytes) / 2 ** 20).toFixed(1), ((r.ops / r.ms) / seq.get(`${r.mode}|${r.size}|${r.op}`)!).toFixed(1)];
});
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]): string => cells.map((c, i) => (i >= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of table) console.log(line(row));
console.log(`\nnode ${process.version}, embedded node in a child process, fsync never, ${quick ? 'quick run' : 'full run'}; sequential = one request at a time.`);
