/**
 * Throughput of the embedded node: PUT and GET of 100-byte payloads,
 * sequential (1 in flight), pipelined (64 in flight) and BATCH_PUT /
 * BATCH_GET (256 entries a frame), with fsync `never` and `interval` (and
 * `always` for the pipelined and batch cases, for reference), and
 * BATCH_LEASE + ACK (the lease extension: each batch acknowledged) against
 * BATCH_GET.
 * The node runs on its own worker thread, the client on the main thread.
 * If `redis-server` is installed, RPUSH/LPOP through a raw RESP client gives
 * a same-machine reference.
 *
 *   npm run bench:broker            # full run
 *   BENCH_SCALE=0.2 npm run bench:broker   # quicker, noisier
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBrokerInWorker, type FsyncPolicy } from '../src/broker/index.js';
import { encodeAck, encodeBatchGet, encodeBatchLease, encodeBatchPut, encodeFrame, parseBatchLease } from '../src/protocol/index.js';
import { RawBenchClient } from './lib/raw-bench-client.js';
import { redisReference } from './lib/redis-reference.js';
import { printTable } from './lib/table.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const PAYLOAD = 'walrus-bench-'.padEnd(100, 'abcdefghij');
const BATCH = 256;

type Row = Record<string, string | number>;

const isOk = (reply: Buffer): boolean => reply.length === 2 && reply[0] === 0x4f && reply[1] === 0x4b;
const isEntry = (reply: Buffer): boolean => reply.length === 103 && reply[0] === 0x4f;
const isBatchOk = (reply: Buffer): boolean => reply[0] === 0x4f && reply[1] === 0x4b;

async function measure(fsync: FsyncPolicy, label: string, full = true): Promise<Row[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-bench-'));
  const node = await startBrokerInWorker({ port: 0, dataDir, fsync });
  const client = await RawBenchClient.connect(node.port);
  const rows: Row[] = [];
  const record = (name: string, entries: number, ms: number, requests = entries): void => {
    rows.push({ fsync: label, case: name, entries, 'entries/s': Math.round((entries / ms) * 1000), 'requests/s': Math.round((requests / ms) * 1000) });
  };
  try {
    await client.run(1, 1, () => encodeFrame('REGISTER bench'), isOk);
    const put = encodeFrame(`PUT bench ${PAYLOAD}`);
    const get = encodeFrame('GET bench');

    // Warm-up (JIT on both sides), not measured; GETs drain what it wrote.
    await client.run(3000, 1, () => put, isOk);
    await client.run(3000, 8, () => get, isEntry);

    // fsync always is bounded by fdatasync latency: fewer requests, and no sequential runs.
    const factor = full ? 1 : 0.1;
    if (full) {
      const seq = Math.round(20_000 * SCALE);
      record('PUT sequential (1 in flight)', seq, await client.run(seq, 1, () => put, isOk));
      record('GET sequential (1 in flight)', seq, await client.run(seq, 1, () => get, isEntry));
    }

    const piped = Math.round(300_000 * SCALE * factor);
    record('PUT pipelined (64 in flight)', piped, await client.run(piped, 64, () => put, isOk));
    record('GET pipelined (64 in flight)', piped, await client.run(piped, 64, () => get, isEntry));

    const frames = Math.round(8_000 * SCALE * factor);
    const batchPut = encodeBatchPut('bench', Array.from({ length: BATCH }, () => PAYLOAD));
    record(`BATCH_PUT ${BATCH}/frame (8 in flight)`, frames * BATCH, await client.run(frames, 8, () => batchPut, isBatchOk), frames);
    const batchGet = encodeBatchGet('bench', BATCH, 1 << 20);
    record(`BATCH_GET ${BATCH}/frame (8 in flight)`, frames * BATCH, await client.run(frames, 8, () => batchGet, (r) => isBatchOk(r) && r.length > BATCH * 100), frames);

    // The same entries again, read with leases: rounds of BATCH_LEASE (8 in
    // flight) then every lease of the round acknowledged (64 in flight),
    // both timed; rounds stay under the node's open-lease limit per connection.
    await client.run(frames, 8, () => batchPut, isBatchOk);
    const batchLease = encodeBatchLease('bench', BATCH, 1 << 20);
    let leaseMs = 0;
    let ackMs = 0;
    for (let left = frames; left > 0; left -= 1000) {
      const round = Math.min(1000, left);
      const leaseIds: number[] = [];
      leaseMs += await client.run(round, 8, () => batchLease, (r) => {
        const lease = parseBatchLease(r);
        if (lease?.entries.length !== BATCH) return false;
        leaseIds.push(lease.leaseId);
        return true;
      });
      ackMs += await client.run(round, 64, (i) => encodeAck('bench', leaseIds[i]!), isOk);
    }
    record(`BATCH_LEASE+ACK ${BATCH}/frame (8 + 64 in flight)`, frames * BATCH, leaseMs + ackMs, frames * 2);
  } finally {
    client.close();
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  return rows;
}

const rows = [
  ...(await measure('never', 'never')),
  ...(await measure({ intervalMs: 200 }, 'interval 200ms')),
  ...(await measure('always', 'always', false)),
];
printTable('walrus-stream embedded node — 100-byte payloads, one connection', rows);

const redis = await redisReference(SCALE);
if (redis) printTable('reference: redis-server RPUSH/LPOP, raw RESP client, same machine', redis);
else process.stdout.write('(redis-server not found: install it for a same-machine reference — optional)\n');
