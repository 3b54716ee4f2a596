import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeBatchPut } from '../../src/protocol/index.js';
import { startBroker, type BrokerHandle } from '../../src/broker/index.js';
import { withBroker } from '../helpers/broker.js';
import { RawClient, drain } from '../helpers/raw-client.js';

/**
 * Clients that take leases and never acknowledge them. Each open lease
 * costs the node about 400 bytes however small its entries; the bound was
 * 4,096 per connection only, so 4,096 connections could make it hold 16.7
 * million (about 7 GB).
 */

function frame(body: string): Buffer {
  const b = Buffer.from(body);
  const h = Buffer.alloc(4);
  h.writeUInt32LE(b.length, 0);
  return Buffer.concat([h, b]);
}

async function fill(c: RawClient, topic: string, count: number): Promise<void> {
  assert.equal(await c.request(`REGISTER ${topic}`), 'OK');
  for (let at = 0; at < count; at += 2000) {
    const n = Math.min(2000, count - at);
    c.writeRaw(encodeBatchPut(topic, Array.from({ length: n }, (_, i) => `${topic}${at + i}`)));
    assert.equal(await c.next(), `OK ${n}`);
  }
}

/** Sends `count` one-entry BATCH_LEASEs at once; returns the lease ids of the ones granted and the other replies. */
async function leaseMany(c: RawClient, topic: string, count: number): Promise<{ ids: number[]; refused: string[] }> {
  c.writeRaw(Buffer.concat(Array.from({ length: count }, () => frame(`BATCH_LEASE ${topic} 1 1`))));
  const ids: number[] = [];
  const refused: string[] = [];
  for (let i = 0; i < count; i++) {
    const reply = await c.next();
    const m = /^OK (\d+) 1 /.exec(reply);
    if (m) ids.push(Number(m[1]));
    else refused.push(reply);
  }
  return { ids, refused };
}

async function untilOpenLeases(node: BrokerHandle, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (node.stats().openLeases !== n) {
    if (Date.now() > deadline) throw new Error(`still ${node.stats().openLeases} open leases, waiting for ${n}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('embedded node: lease floods', () => {
  test('open leases are bounded node-wide (maxOpenLeases, default 262,144): more is refused with the bound, nothing is lost', async () => {
    await withBroker(async (node) => assert.equal(node.options.maxOpenLeases, 262_144));
    await withBroker({ maxOpenLeases: 100 }, async (node) => {
      const loader = await RawClient.connect(node.port);
      await fill(loader, 't', 300);
      const a = await RawClient.connect(node.port);
      const b = await RawClient.connect(node.port);
      const c = await RawClient.connect(node.port);
      assert.equal((await leaseMany(a, 't', 60)).ids.length, 60);
      const fromB = await leaseMany(b, 't', 50);
      // Before: every one was granted (only the 4,096 per connection counted).
      assert.equal(fromB.ids.length, 40);
      assert.equal(fromB.refused.length, 10);
      const refusal = 'ERR too many open leases (100) on this node (maxOpenLeases): ACK some first, or close connections that hold leases they will not acknowledge';
      assert.deepEqual(new Set(fromB.refused), new Set([refusal]));
      assert.equal(await c.request('BATCH_LEASE t 1 1'), refusal);
      assert.equal(node.stats().openLeases, 100);
      // An ACK makes room; a closed connection's leases are released and make room too.
      assert.equal(await b.request(`ACK t ${fromB.ids[0]}`), 'OK');
      assert.match(await c.request('BATCH_LEASE t 1 1'), /^OK \d+ 1 /);
      a.close();
      await untilOpenLeases(node, 40);
      assert.equal((await leaseMany(c, 't', 60)).ids.length, 60);
      // Nothing was lost: what is not leased or acknowledged is still there to read.
      b.close();
      c.close();
      await untilOpenLeases(node, 0);
      const rest = await drain(loader, 't');
      assert.equal(rest.length, 299);
      assert.equal(new Set(rest).size, 299);
      loader.close();
    });
  });

  test('leases past leaseTimeoutMs are released before a connection is told it holds too many', async () => {
    // Memory-only: 4,096 REGISTERs with a data dir cost 4,096 fsyncs of topic.json, and leases work the same.
    const node = await startBroker({ host: '127.0.0.1', port: 0, leaseTimeoutMs: 200 });
    try {
      const a = await RawClient.connect(node.port);
      // One lease on each of 4,096 topics: a lease expires lazily, when its own topic is next read, so
      // none of them is released while the others are taken, however long that takes.
      const topics = Array.from({ length: 4096 }, (_, i) => `x${i}`);
      a.writeRaw(Buffer.concat(topics.flatMap((t) => [frame(`REGISTER ${t}`), frame(`PUT ${t} ${t}`)])));
      for (let i = 0; i < topics.length * 2; i++) assert.equal(await a.next(60_000), 'OK');
      await fill(a, 'y', 1);
      a.writeRaw(Buffer.concat(topics.map((t) => frame(`BATCH_LEASE ${t} 1 1`))));
      for (const t of topics) assert.match(await a.next(), new RegExp(`^OK \\d+ 1 ${t.length} ${t}$`));
      assert.equal(node.stats().openLeases, 4096);
      await new Promise((r) => setTimeout(r, 300));
      // Before: "ERR too many open leases (4096) on this connection: ACK some first": the expired leases
      // still counted until someone read their topics, so a reader back after its timeout could lease nothing else.
      assert.match(await a.request('BATCH_LEASE y 1 1'), /^OK \d+ 1 2 y0$/);
      assert.equal(node.stats().openLeases, 1);
      const state = JSON.parse(await a.request('STATE x7')) as Record<string, number>;
      assert.equal(state.redeliver_entries, 1);
      assert.equal(await a.request('GET x7'), 'OK x7');
      a.close();
    } finally {
      await node.close();
    }
  });
});
