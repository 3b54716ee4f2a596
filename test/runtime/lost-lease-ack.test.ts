import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { harness } from './harness.js';
import { countOrder, countTopology, expectedCounts } from '../helpers/state-count.js';

const N = 3_000;

/**
 * A TCP proxy that forwards frames both ways until `cutAtAck()` arms it;
 * then the connection carrying the next `ACK` frame is destroyed before that
 * frame is forwarded. The node never sees the ACK and releases the lease when
 * the connection closes: the case of a node that dies (or a link that breaks)
 * between the journal append and the ACK — while `run` keeps running.
 */
async function ackCutter(port: number): Promise<{ address: string; cuts: number; cutAtAck(): void; close(): Promise<void> }> {
  let armed = false;
  const state = { cuts: 0 };
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
        if (armed && frame.subarray(4, 8).toString('latin1') === 'ACK ') {
          armed = false;
          state.cuts += 1;
          client.resetAndDestroy();
          upstream.destroy();
          return;
        }
        upstream.write(frame);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    get cuts() { return state.cuts; },
    cutAtAck() { armed = true; },
    close: () => { for (const s of sockets) s.destroy(); return new Promise((resolve) => server.close(() => resolve())); },
  };
}

test('a lease ACK lost mid-run (the connection dies before the node gets it): the node redelivers, and the entries the journal holds are not processed twice — state exact', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const proxy = await ackCutter(h.broker.port);
  t.after(() => proxy.close());
  await h.produce('orders', Array.from({ length: N }, (_, i) => countOrder(i)), 3);
  const yaml = `${countTopology({
    app: 'lostack', stateDir: join(h.stateDir, 'state'), cluster: '{ breaker: { openDuration: 200ms } }',
    source: '{ topic: orders, poll: { batchSize: 50 }, rateLimit: 3000 }',
  })}observability: { logLevel: silent }\n`;
  // Cut twice, at different points of the run.
  const cutter = setInterval(() => { if (proxy.cuts < 2) proxy.cutAtAck(); }, 300);
  t.after(() => clearInterval(cutter));
  const summary = await h.run(yaml, { nodes: [proxy.address] });
  clearInterval(cutter);
  assert.equal(proxy.cuts, 2, 'two ACKs were cut');
  t.diagnostic(`entries fetched ${summary.sources.orders!.entries}, redelivered copies dropped ${summary.sources.orders!.duplicates ?? 0}`);

  const { totals: want, prefix } = expectedCounts(N);
  // A redelivered copy processed again would count its records twice here.
  const store = await KeyValueStore.open({ dir: storeDir(join(h.stateDir, 'state'), 'lostack', 'totals'), name: 'totals' });
  try {
    assert.deepEqual(new Map(store.range().map((e) => [e.key, e.value])), want);
  } finally {
    await store.close();
  }
  // Every record's output, each copy computed from the state just before it
  // (a write retried after a lost reply may store a batch twice: same values).
  const seen = new Set<number>();
  for (const o of (await h.drain('counts.out')).map((r) => r.value as { i: number; n: number; sum: number })) {
    assert.deepEqual({ n: o.n, sum: o.sum }, prefix.get(o.i), `record ${o.i}`);
    seen.add(o.i);
  }
  assert.equal(seen.size, N, 'every record produced its output');
  assert.equal((await h.drainEntries('orders')).length, 0, 'the source is drained');
});
