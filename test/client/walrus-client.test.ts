import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WalrusClient } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

for (const compat of ['default', 'stock'] as const) {
  describe(`WalrusClient against an embedded node (${compat} mode)`, () => {
    let node: TestBroker;
    let client: WalrusClient;
    before(async () => {
      node = await startTestBroker({ compat });
      client = new WalrusClient({ nodes: [node.address], retry: { initialDelayMs: 1, maxDelayMs: 5 } });
    });
    after(async () => {
      await client.close();
      await node.close();
    });

    test('register is idempotent; put then get round-trips bytes; get on a drained topic is undefined', async () => {
      await client.register('basic');
      await client.register('basic');
      const payload = '  leading spaces, ünïcödé 🦭 and "quotes"';
      await client.put('basic', payload);
      const entry = await client.get('basic');
      assert.ok(Buffer.isBuffer(entry));
      assert.equal(entry.toString('utf8'), payload);
      assert.equal(await client.get('basic'), undefined);
    });

    test('putMany / getMany keep order across frame splits and report capabilities', async () => {
      await client.register('many');
      const payloads = Array.from({ length: 2_500 }, (_, i) => `entry-${i}-${'x'.repeat(i % 50)}`);
      await client.putMany('many', payloads);
      const caps = client.capabilities();
      assert.equal(caps.probed, true);
      assert.equal(caps.batchPut, compat === 'default');
      assert.equal(caps.batchGet, compat === 'default');
      const read: string[] = [];
      for (;;) {
        const batch = await client.getMany('many', 700, 20_000);
        if (batch.length === 0) break;
        assert.ok(batch.length <= 700);
        read.push(...batch.map((b) => b.toString('utf8')));
      }
      assert.deepEqual(read, payloads);
      const stats = client.stats();
      if (compat === 'stock') assert.ok(stats.fallbacks >= 2, `fallbacks ${stats.fallbacks}`);
      else assert.equal(stats.fallbacks, 0);
    });

    test('getMany respects maxBytes with BATCH_GET and stays close to it without', async () => {
      await client.register('bytes');
      await client.putMany('bytes', Array.from({ length: 100 }, (_, i) => `${i}`.padStart(100, '0')));
      const batch = await client.getMany('bytes', 100, 1_000);
      const total = batch.reduce((n, b) => n + b.length, 0);
      if (compat === 'default') assert.ok(total <= 1_000, `${total} bytes`);
      else assert.ok(total <= 1_000 + 64 * 100, `${total} bytes`);
      assert.ok(batch.length >= 1);
      assert.equal(batch[0]!.toString(), '0'.repeat(100));
    });

    test('an entry too big for a BATCH_GET reply is still read (through GET)', async () => {
      await client.register('big');
      const big = 'b'.repeat(65_536 - 5 - 'big'.length);
      await client.putMany('big', ['small', big, 'after']);
      const read: string[] = [];
      for (let batch = await client.getMany('big', 10); batch.length > 0; batch = await client.getMany('big', 10)) read.push(...batch.map(String));
      assert.deepEqual(read, ['small', big, 'after']);
    });

    test('bad input is refused before anything is sent, naming the problem', async () => {
      await client.register('bad');
      await assert.rejects(client.put('bad', 'trailing '), (e: unknown) => e instanceof WalrusError && e.code === 'INVALID_PAYLOAD');
      await assert.rejects(client.put('has space', 'x'), (e: unknown) => e instanceof WalrusError && e.code === 'INVALID_TOPIC');
      await assert.rejects(client.putMany('bad', ['ok', 'also ok', '']), (e: unknown) => e instanceof WalrusError && e.code === 'INVALID_PAYLOAD' && /payload 2/.test(e.message));
      await assert.rejects(client.put('bad', 'x'.repeat(70_000)), (e: unknown) => e instanceof WalrusError && e.code === 'FRAME_TOO_LARGE');
      assert.equal(await client.get('bad'), undefined, 'nothing of a refused putMany was stored');
      await assert.rejects(client.getMany('bad', 0), (e: unknown) => e instanceof WalrusError && e.code === 'INVALID_ARGUMENT');
    });

    test('unknown topic is a typed, non-retriable error', async () => {
      const before = client.stats().retries;
      await assert.rejects(client.put('never-registered', 'x'), (e: unknown) => e instanceof WalrusError && e.code === 'TOPIC_NOT_FOUND' && !e.retriable);
      assert.equal(client.stats().retries, before);
    });

    test('state is typed; lag appears where the node reports it', async () => {
      await client.register('lag');
      await client.putMany('lag', ['a', 'b', 'c']);
      await client.get('lag');
      const state = await client.state('lag');
      assert.equal(state.topic, 'lag');
      assert.equal(state.currentSegment, 1);
      assert.equal(state.node, node.address);
      if (compat === 'default') assert.equal(state.lag, 2);
      else assert.equal(state.lag, undefined);
    });

    test('metrics and health report node id, Raft state and leader', async () => {
      const metrics = await client.metrics();
      assert.equal(metrics.state, 'Leader');
      const health = await client.health();
      assert.equal(health.healthy, true);
      assert.equal(health.nodes[0]!.state, 'Leader');
      assert.equal(health.nodes[0]!.leader, health.nodes[0]!.id);
    });

    test('many concurrent calls are pipelined and all answered in order per caller', async () => {
      await client.register('pipe');
      await Promise.all(Array.from({ length: 500 }, (_, i) => client.put('pipe', `p${i}`)));
      const got = await Promise.all(Array.from({ length: 500 }, () => client.get('pipe')));
      assert.equal(new Set(got.map((b) => b?.toString())).size, 500);
      const stats = client.stats().nodes[node.address]!;
      assert.ok(stats.requests.PUT!.ok >= 500);
      assert.ok(stats.pool.created >= 1 && stats.pool.created <= 4);
    });
  });
}

test('close() fails later calls with POOL_CLOSED and lets the process exit', async () => {
  const node = await startTestBroker();
  const client = new WalrusClient({ nodes: [node.address] });
  await client.register('closing');
  await client.close();
  await assert.rejects(client.put('closing', 'x'), (e: unknown) => e instanceof WalrusError && e.code === 'POOL_CLOSED');
  await node.close();
});

test('a node that loses its extensions (restarted in stock mode) is detected on the fly; nothing is lost or doubled', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-client-'));
  let node = await startTestBroker({ dataDir });
  const client = new WalrusClient({ nodes: [node.address], retry: { initialDelayMs: 5, maxDelayMs: 20 } });
  try {
    await client.register('swap');
    await client.putMany('swap', ['a', 'b']);
    assert.equal(client.capabilities().batchPut, true);
    const port = node.port;
    await node.close();
    node = await startTestBroker({ dataDir, port, compat: 'stock' });
    await client.putMany('swap', ['c', 'd', 'e']);
    const got = await client.getMany('swap', 10);
    assert.deepEqual(got.map(String), ['a', 'b', 'c', 'd', 'e']);
    await client.putMany('swap', ['f']);
    const lease = await client.lease('swap', 10);
    assert.deepEqual([lease.leased, lease.entries.map(String)], [false, ['f']]);
    assert.equal(await client.claim('swap', 'me', 1000), false, 'CLAIM is found missing on first use too');
    assert.deepEqual(client.capabilities(), { batchPut: false, batchGet: false, batchLease: false, claims: false, probed: true });
    assert.equal(client.stats().possibleDuplicates, 0);
  } finally {
    await client.close();
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
