import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WalrusClient, type WalrusClientOptions } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { withBroker, type TestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

const strings = (entries: Buffer[]) => entries.map(String);

async function withClient<T>(address: string, fn: (client: WalrusClient) => Promise<T>, options: Partial<WalrusClientOptions> = {}): Promise<T> {
  const client = new WalrusClient({ nodes: [address], retry: { retries: 0 }, ...options });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

async function seed(node: TestBroker, topic: string, count: number): Promise<string[]> {
  const entries = Array.from({ length: count }, (_, i) => `${topic}-${i}`);
  await withClient(node.address, async (c) => {
    await c.register(topic);
    await c.putMany(topic, entries);
  });
  return entries;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('lease → ack: the entries are consumed once; the capability is detected', () => withBroker(async (node) => {
  const all = await seed(node, 'la', 5);
  await withClient(node.address, async (client) => {
    const lease = await client.lease('la', 3);
    assert.equal(lease.leased, true);
    assert.equal(typeof lease.leaseId, 'number');
    assert.equal(lease.node, node.address);
    assert.deepEqual(strings(lease.entries), all.slice(0, 3));
    assert.equal(client.capabilities(node.address).batchLease, true);
    assert.equal((await client.state('la')).raw.leased_entries, 3);
    const acked = lease.ack();
    assert.equal(lease.ack(), acked, 'ack() again returns the same promise');
    await acked;
    assert.equal(lease.ack(), acked);
    assert.equal(node.stats().openLeases, 0);
    const rest = await client.lease('la', 10);
    assert.deepEqual(strings(rest.entries), all.slice(3));
    await rest.ack();
    const empty = await client.lease('la', 10);
    assert.deepEqual(empty.entries, []);
    assert.equal(empty.leased, true);
    assert.equal(empty.ack(), empty.ack(), 'an empty lease: ack() again returns the same promise');
    await empty.ack();
    assert.equal(client.stats().leaseRedeliveries, 0);
    assert.equal(client.stats().fallbacks, 0);
  });
}));

test('a lease whose connection dies before the ACK: ack() rejects with retriable CONNECTION_CLOSED and the next reader gets the entries first', () => withBroker(async (node) => {
  const all = await seed(node, 'lc', 6);
  const proxy = await FaultProxy.start(node);
  try {
    await withClient(proxy.address, async (client) => {
      const lease = await client.lease('lc', 2);
      assert.deepEqual(strings(lease.entries), all.slice(0, 2));
      proxy.resetAll();
      await until(() => node.stats().openLeases === 0, 'the node to release the lease');
      const error = await lease.ack().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof WalrusError, String(error));
      assert.equal(error.code, 'CONNECTION_CLOSED');
      assert.equal(error.retriable, true);
      assert.match(error.message, /delivers these entries again/);
      assert.equal(client.stats().leaseRedeliveries, 2);
      await withClient(node.address, async (other) => {
        const again = await other.lease('lc', 3);
        assert.deepEqual(strings(again.entries), [all[0], all[1], all[2]]);
        await again.ack();
      });
    });
  } finally {
    await proxy.close();
  }
}));

test('closing the client with a lease open releases it to the next reader', () => withBroker(async (node) => {
  const all = await seed(node, 'lx', 3);
  const client = new WalrusClient({ nodes: [node.address] });
  const lease = await client.lease('lx', 2);
  await client.close();
  await assert.rejects(lease.ack(), (e: unknown) => e instanceof WalrusError && e.code === 'CONNECTION_CLOSED');
  await until(() => node.stats().openLeases === 0, 'the node to release the lease');
  await withClient(node.address, async (other) => {
    assert.deepEqual(strings(await other.getMany('lx', 10)), all);
  });
}));

test('out-of-order acks through the client; the held connection is not evicted as idle', () => withBroker(async (node) => {
  const all = await seed(node, 'lo', 6);
  await withClient(node.address, async (client) => {
    const a = await client.lease('lo', 2);
    const b = await client.lease('lo', 2);
    const c = await client.lease('lo', 2);
    assert.equal(client.stats().nodes[node.address]!.pool.active >= 1, true, 'held connections count as active');
    // Idle eviction runs every ~50 ms with this pool; a held connection must survive it.
    await new Promise((r) => setTimeout(r, 250));
    await c.ack();
    await b.ack();
    await a.ack();
    assert.deepEqual([...a.entries, ...b.entries, ...c.entries].map(String), all);
    assert.equal(node.stats().openLeases, 0);
    assert.equal(client.stats().nodes[node.address]!.pool.evicted, 0);
    assert.equal(client.stats().leaseRedeliveries, 0);
  }, { pool: { min: 0, max: 4, idleTimeoutMs: 20, healthCheckIntervalMs: 20 } });
}));

test('leases that are never acknowledged do not starve the other calls; close() still releases them', () => withBroker(async (node) => {
  const all = await seed(node, 'lf', 40);
  const client = new WalrusClient({ nodes: [node.address], retry: { retries: 0 }, pool: { min: 1, max: 1, maxPipeline: 8, acquireTimeoutMs: 300 } });
  try {
    // A handler that failed and dropped its lease, 20 times. Each held lease
    // took a pipeline slot for good: the 9th lease and then every put, get
    // and metrics call failed with POOL_TIMEOUT ("raise pool.max").
    const dropped: string[] = [];
    for (let i = 0; i < 20; i++) dropped.push(...strings((await client.lease('lf', 1)).entries));
    assert.deepEqual(dropped, all.slice(0, 20));
    await client.put('lf', 'still writable');
    assert.equal(String(await client.get('lf')), all[20]);
    await client.metrics();
    const acked = await client.lease('lf', 5);
    await acked.ack();
    assert.equal(node.stats().openLeases, 20);
  } finally {
    await client.close();
  }
  await until(() => node.stats().openLeases === 0, 'the node to release the dropped leases');
  await withClient(node.address, async (other) => {
    assert.deepEqual(strings(await other.getMany('lf', 100)), [...all.slice(0, 20), ...all.slice(26), 'still writable']);
  });
}));

test('a stock node: lease falls back to getMany, leased false, ack is a no-op, entries are consumed', () => withBroker({ compat: 'stock' }, async (node) => {
  const all = await seed(node, 'ls', 4);
  await withClient(node.address, async (client) => {
    const lease = await client.lease('ls', 3);
    assert.equal(lease.leased, false);
    assert.equal(lease.leaseId, undefined);
    assert.deepEqual(strings(lease.entries), all.slice(0, 3));
    assert.equal(lease.ack(), lease.ack(), 'the no-op ack() returns the same promise every time, as documented');
    await lease.ack();
    assert.equal(client.capabilities(node.address).batchLease, false);
    assert.ok(client.stats().fallbacks >= 1);
    assert.deepEqual(strings(await client.getMany('ls', 10)), [all[3]]);
  });
}));

test('a lease asked with an aborted signal rejects with ABORTED and leases nothing, like every other call', () => withBroker(async (node) => {
  const all = await seed(node, 'lab', 4);
  await withClient(node.address, async (client) => {
    // Aborted before the call (it resolved with a lease nobody would ack, hiding its entries).
    await assert.rejects(client.lease('lab', 4, undefined, { signal: AbortSignal.abort() }), { code: 'ABORTED' });
    assert.equal(node.stats().openLeases, 0);
    // Aborted while the call waits for the capability probe, before BATCH_LEASE is sent.
    const controller = new AbortController();
    const pending = client.lease('lab', 4, undefined, { signal: controller.signal });
    controller.abort();
    await assert.rejects(pending, { code: 'ABORTED' });
    assert.equal(node.stats().openLeases, 0);
    assert.equal((await client.state('lab')).lag, 4, 'all four entries still wait to be read');
    const lease = await client.lease('lab', 10);
    assert.deepEqual(strings(lease.entries), all);
    await lease.ack();
  });
}));

test('lease validates its arguments before sending anything', () => withBroker(async (node) => {
  await withClient(node.address, async (client) => {
    await assert.rejects(client.lease('x', 0), /maxEntries must be a positive integer/);
    await assert.rejects(client.lease('x', 1, 0), /maxBytes must be a positive integer/);
    await assert.rejects(client.lease('bad topic', 1), (e: unknown) => e instanceof WalrusError && e.code === 'INVALID_TOPIC');
    assert.equal(client.stats().nodes[node.address]?.requests.BATCH_LEASE, undefined);
  });
}));

test('an ACK for a lease the node released on timeout rejects with LEASE_NOT_FOUND and counts a redelivery', () => withBroker({ leaseTimeoutMs: 30 }, async (node) => {
  const all = await seed(node, 'lt', 2);
  await withClient(node.address, async (client) => {
    const lease = await client.lease('lt', 2);
    await new Promise((r) => setTimeout(r, 60));
    await withClient(node.address, async (other) => {
      const again = await other.lease('lt', 5);
      assert.deepEqual(strings(again.entries), all);
      await again.ack();
    });
    await assert.rejects(lease.ack(), (e: unknown) => e instanceof WalrusError && e.code === 'LEASE_NOT_FOUND' && !e.retriable);
    assert.equal(client.stats().leaseRedeliveries, 2);
  });
}));

test('an entry too large for a list reply is read through the GET fallback (leased false); later ones are leased again', () => withBroker(async (node) => {
  await withClient(node.address, async (client) => {
    await client.register('lbig');
    const huge = 'z'.repeat(65_536 - 'PUT lbig '.length);
    await client.put('lbig', huge);
    await client.put('lbig', 'after');
    const first = await client.lease('lbig', 10, 1000);
    assert.equal(first.leased, false);
    assert.deepEqual(first.entries.map((e) => e.length), [huge.length]);
    assert.equal(client.capabilities(node.address).batchLease, true, 'the extension is still there');
    const next = await client.lease('lbig', 10);
    assert.equal(next.leased, true);
    assert.deepEqual(strings(next.entries), ['after']);
    await next.ack();
  });
}));

test('releaseLeases hands another client\'s open leases back (its ack then fails); undefined on a stock node; the 4,096-lease refusal says leaseLimit', async () => {
  await withBroker(async (node) => {
    const all = await seed(node, 'lr', 4);
    await withClient(node.address, async (holder) => withClient(node.address, async (owner) => {
      const held = await holder.lease('lr', 3);
      assert.equal((await owner.state('lr')).openLeases, 1);
      assert.equal(await owner.releaseLeases('lr'), 3);
      assert.equal((await owner.state('lr')).openLeases, 0);
      assert.deepEqual(strings((await owner.lease('lr', 10)).entries), all);
      await assert.rejects(held.ack(), (e: WalrusError) => e.code === 'LEASE_NOT_FOUND');
      // The owner holds one lease; its one connection may hold 4,096.
      await seed(node, 'lr', 4096);
      for (let i = 1; i < 4096; i += 1) await owner.lease('lr', 1);
      await assert.rejects(owner.lease('lr', 1), (e: WalrusError) => e.code === 'INVALID_COMMAND' && e.context?.leaseLimit === true);
    }, { pool: { min: 1, max: 1 } }));
  });
  await withBroker({ compat: 'stock' }, async (node) => {
    await seed(node, 'ls', 1);
    await withClient(node.address, async (client) => assert.equal(await client.releaseLeases('ls'), undefined));
  });
});
