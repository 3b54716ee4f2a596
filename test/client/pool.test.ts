import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WalrusClient } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

let node: TestBroker;
before(async () => {
  node = await startTestBroker();
});
after(async () => {
  await node.close();
});

async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

test('the pool grows under load up to max and evicts idle connections back to min', async () => {
  const client = new WalrusClient({ nodes: [node.address], pool: { min: 1, max: 3, idleTimeoutMs: 150, healthCheckIntervalMs: 60_000 } });
  await client.register('grow');
  await Promise.all(Array.from({ length: 300 }, (_, i) => client.put('grow', `g${i}`)));
  const busy = client.stats().nodes[node.address]!.pool;
  assert.ok(busy.size >= 2 && busy.size <= 3, JSON.stringify(busy));
  await until(() => client.stats().nodes[node.address]!.pool.size === 1);
  const idle = client.stats().nodes[node.address]!.pool;
  assert.ok(idle.evicted >= 1 && idle.idle === 1 && idle.active === 0, JSON.stringify(idle));
  await client.close();
});

test('maxPipeline bounds sharing; callers beyond it wait and time out with POOL_TIMEOUT', async () => {
  const proxy = await FaultProxy.start(node);
  const client = new WalrusClient({ nodes: [proxy.address], requestTimeoutMs: 2_000, retry: { retries: 0 }, pool: { min: 1, max: 1, maxPipeline: 2, acquireTimeoutMs: 80 } });
  await client.metrics();
  proxy.setMode({ kind: 'blackhole' });
  const stuck = [client.metrics(), client.metrics()];
  const waiting = client.metrics();
  assert.equal(client.stats().nodes[proxy.address]!.pool.pending, 1);
  await assert.rejects(waiting, (e: unknown) => e instanceof WalrusError && e.code === 'POOL_TIMEOUT' && /pool max 1/.test(e.message));
  proxy.resetAll();
  await Promise.allSettled(stuck);
  await client.close();
  await proxy.close();
});

test('the periodic health check replaces a connection that stopped answering', async () => {
  const proxy = await FaultProxy.start(node);
  const client = new WalrusClient({ nodes: [proxy.address], healthCheckTimeoutMs: 80, pool: { min: 1, max: 1, healthCheckIntervalMs: 100, idleTimeoutMs: 60_000 } });
  await client.metrics();
  proxy.setMode({ kind: 'blackhole' });
  await until(() => client.stats().nodes[proxy.address]!.pool.destroyed >= 1);
  proxy.setMode({ kind: 'pass' });
  await until(() => client.stats().nodes[proxy.address]!.pool.size === 1 && client.stats().nodes[proxy.address]!.pool.created >= 2);
  await client.metrics();
  await client.close();
  await proxy.close();
});

test('close() rejects callers waiting for a connection with POOL_CLOSED', async () => {
  const proxy = await FaultProxy.start(node);
  const client = new WalrusClient({ nodes: [proxy.address], requestTimeoutMs: 2_000, retry: { retries: 0 }, pool: { min: 1, max: 1, maxPipeline: 1, acquireTimeoutMs: 5_000 } });
  await client.metrics();
  proxy.setMode({ kind: 'blackhole' });
  const stuck = client.metrics();
  const waiting = client.metrics();
  const closing = client.close();
  await assert.rejects(waiting, (e: unknown) => (e as WalrusError).code === 'POOL_CLOSED');
  proxy.resetAll();
  await Promise.allSettled([stuck, closing]);
  await proxy.close();
});
