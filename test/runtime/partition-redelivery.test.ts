import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { fixture, harness, type Harness } from './harness.js';
import { expectedTotals, instanceTotals, sorted } from './partitioned-state-helpers.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A TCP proxy to the node that forwards every frame except `ACK`s, which it
 * keeps (the node never gets them) and counts per topic: what a `kill -9`
 * right after the journal append, before the ACK went out, leaves behind —
 * entries in the journal that the node still holds as leased, and hands out
 * again once the dead process's connections close.
 */
async function ackHolder(port: number): Promise<{ address: string; held: Map<string, number>; close(): Promise<void> }> {
  const held = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port });
    for (const s of [client, upstream]) { sockets.add(s); s.on('error', () => {}); s.on('close', () => { sockets.delete(s); client.destroy(); upstream.destroy(); }); }
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32LE(0)) {
        const frame = pending.subarray(0, 4 + pending.readUInt32LE(0));
        pending = pending.subarray(frame.length);
        const text = frame.subarray(4).toString('latin1');
        if (text.startsWith('ACK ')) { const topic = text.split(' ')[1]!; held.set(topic, (held.get(topic) ?? 0) + 1); continue; }
        upstream.write(frame);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    held,
    close: () => { for (const s of sockets) s.destroy(); return new Promise((resolve) => server.close(() => resolve())); },
  };
}

test('killed between the journal append and the lease ACK, on partitions it reads in turn: the restart drops every partition\'s redelivered copies, not only the first partition\'s — each record counted once', { timeout: 90_000 }, async (t) => {
  const proxy = await ackHolder(h.broker.port);
  t.after(() => proxy.close());
  const stateDir = join(h.stateDir, 'rd');
  const file = join(h.stateDir, 'rd.yaml');
  await writeFile(file, `
app: rd
stateDir: ${stateDir}
workers: 1
sources:
  in: { topic: rd-in, partitions: 4, poll: { batchSize: 64, minInterval: 1ms, maxInterval: 10ms } }
processors:
  count: { module: ${fixture('state-count-held.ts')}, input: in, ordering: key, concurrency: 4, stores: [totals] }
stores:
  totals: { partitions: 4 }
observability: { logLevel: warn }
`);
  // Instance 0 of 2 reads partitions 0 and 2, in turn, starting with 0.
  const keys = Array.from({ length: 60 }, (_, n) => `k-${n}`);
  const inPartition = (p: number) => keys.filter((k) => partitionOfKey(k, 4) === p).slice(0, 3);
  const records = (p: number, from: number, to: number) => inPartition(p).flatMap((k) => Array.from({ length: to - from }, (_, j) => ({ k, amount: ((from + j) % 5) + 1, i: from + j })));
  const put = (p: number, list: Array<{ k: string; amount: number; i: number }>) => h.produce(`rd-in.p${p}`, list.map((r) => ({ key: r.k, value: { amount: r.amount, i: r.i } })));
  for (let p = 0; p < 4; p += 1) await h.client.register(`rd-in.p${p}`);
  const first = [...records(0, 0, 10), ...records(2, 0, 10)];
  await put(0, records(0, 0, 10));
  await put(2, records(2, 0, 10));
  const args = [file, '--instances', '2', '--instance', '0', '--progress-interval', '0', '--lease-ttl', '1000'];

  // First run: through the proxy, every record held in its processor (unreleased); killed once both partitions' leases are journaled.
  const held = spawn(process.execPath, [bin, 'run', ...args, '--nodes', proxy.address], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WALRUS_TEST_HOLD: '1' } });
  let stderr = '';
  held.stderr.on('data', (c: Buffer) => { stderr += c; });
  const exited = new Promise((resolve) => held.on('exit', resolve));
  const until = Date.now() + 30_000;
  while (!(proxy.held.has('rd-in.p0') && proxy.held.has('rd-in.p2')) && Date.now() < until) await sleep(20);
  assert.ok(proxy.held.has('rd-in.p0') && proxy.held.has('rd-in.p2'), `both partitions were read and journaled (ACKs held: ${JSON.stringify([...proxy.held])}) ${stderr}`);
  held.kill('SIGKILL');
  await exited;

  // New records arrive in partition 0 meanwhile: behind its redelivered copies, the first fetch of the restart sees new entries.
  const later = records(0, 10, 20);
  await put(0, later);
  const again = spawn(process.execPath, [bin, 'run', ...args, '--nodes', h.broker.address, '--until-idle', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  again.stdout.on('data', (c: Buffer) => { out += c; });
  again.stderr.on('data', (c: Buffer) => { err += c; });
  const code = await new Promise((resolve) => again.on('exit', resolve));
  assert.equal(code, 0, err);
  const summary = JSON.parse(out) as { recovered: number; sources: Record<string, { duplicates?: number }> };
  assert.equal(summary.recovered, first.length, 'the journal held every record of the first run');
  const want = expectedTotals([...first, ...later]);
  assert.deepEqual(sorted(await instanceTotals(stateDir, 'rd', 0)), sorted(want), 'each record counted once');
  assert.equal(summary.sources.in?.duplicates, first.length, 'every redelivered copy, of both partitions, was dropped');
});
