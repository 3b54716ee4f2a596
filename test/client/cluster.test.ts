import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WalrusClient, type BalancerName } from '../../src/client/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

/**
 * Three independent embedded nodes stand in for a cluster. They share no
 * data (a real Walrus cluster replicates), which makes routing visible:
 * an entry can only be read from the node it was written to.
 */
describe('cluster: three embedded nodes', () => {
  const nodes: TestBroker[] = [];
  const dirs: string[] = [];
  const clients: WalrusClient[] = [];

  function client(balancer: BalancerName, extra: Partial<ConstructorParameters<typeof WalrusClient>[0]> = {}): WalrusClient {
    const c = new WalrusClient({ nodes: nodes.map((n) => n.address), balancer, retry: { initialDelayMs: 5, maxDelayMs: 50 }, ...extra });
    clients.push(c);
    return c;
  }

  function putsByNode(c: WalrusClient, command = 'PUT'): number[] {
    const stats = c.stats().nodes;
    return nodes.map((n) => stats[n.address]?.requests[command]?.ok ?? 0);
  }

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'walrus-cluster-'));
      dirs.push(dir);
      nodes.push(await startTestBroker({ dataDir: dir, nodeId: i + 1, compat: i === 2 ? 'stock' : 'default' }));
    }
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(nodes.map((n) => n.close()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  test('register reaches every node; capabilities are detected per node', async () => {
    const c = client('round-robin');
    await c.register('events');
    const caps = await c.probeCapabilities();
    assert.deepEqual(nodes.map((n) => caps[n.address]!.batchPut), [true, true, false]);
    assert.deepEqual(c.capabilities(), { batchPut: false, batchGet: false, batchLease: false, claims: false, probed: true });
  });

  test('round-robin spreads writes evenly', async () => {
    const c = client('round-robin');
    await c.register('rr');
    for (let i = 0; i < 300; i++) await c.put('rr', `m${i}`);
    assert.deepEqual(putsByNode(c), [100, 100, 100]);
  });

  test('least-outstanding spreads concurrent writes over every node', async () => {
    const c = client('least-outstanding');
    await c.register('lo');
    await Promise.all(Array.from({ length: 300 }, (_, i) => c.put('lo', `m${i}`)));
    const counts = putsByNode(c);
    assert.equal(counts.reduce((a, b) => a + b, 0), 300);
    assert.ok(counts.every((n) => n >= 50), counts.join());
  });

  test('consistent-hash sends every write of a topic to one node, and different topics to different nodes', async () => {
    const c = client('consistent-hash');
    const topics = Array.from({ length: 12 }, (_, i) => `ch-${i}`);
    for (const t of topics) await c.register(t);
    const owners = new Set<string>();
    for (const t of topics) {
      const before = putsByNode(c);
      for (let i = 0; i < 5; i++) await c.put(t, `v${i}`);
      const delta = putsByNode(c).map((n, i) => n - before[i]!);
      assert.equal(delta.filter((d) => d > 0).length, 1, `${t}: ${delta.join()}`);
      const owner = nodes[delta.findIndex((d) => d > 0)]!.address;
      owners.add(owner);
      assert.equal(c.readNodeFor(t), owner, 'reads and writes of a topic share its owner');
    }
    assert.ok(owners.size >= 2, `12 topics all on ${[...owners].join()}`);
  });

  test('reads of a topic are pinned to one node whatever the write balancer', async () => {
    const c = client('round-robin');
    await c.register('pinned');
    const owner = c.readNodeFor('pinned');
    for (let i = 0; i < 30; i++) await c.put('pinned', `e${i}`); // spread over all three nodes
    const got: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      const entry = await c.get('pinned');
      if (entry) got.push(entry);
    }
    await c.getMany('pinned', 10);
    await c.state('pinned');
    const stats = c.stats().nodes;
    for (const n of nodes) {
      const reads = (stats[n.address]!.requests.GET?.ok ?? 0) + (stats[n.address]!.requests.BATCH_GET?.ok ?? 0) + (stats[n.address]!.requests.STATE?.ok ?? 0);
      if (n.address === owner) assert.ok(reads >= 22, `owner ${owner} served ${reads}`);
      else assert.equal(reads, 0, `${n.address} served reads`);
    }
    assert.equal(got.length, 10, 'exactly the third of the writes that landed on the owner');
  });

  test('a killed node: writes and reads fail over; after restart the node returns', async () => {
    const c = client('round-robin', { breaker: { failureThreshold: 2, openDurationMs: 300, halfOpenAttempts: 1 }, healthCheckTimeoutMs: 500 });
    const topic = 'failover';
    await c.register(topic);
    const owner = c.readNodeFor(topic);
    const victim = nodes.findIndex((n) => n.address === owner);
    const { port, dataDir } = nodes[victim]!;
    const compat = victim === 2 ? 'stock' : 'default';
    await nodes[victim]!.close();

    // Writes keep succeeding: refused connections fail over to the next node at once.
    for (let i = 0; i < 30; i++) await c.put(topic, `after-kill-${i}`);
    assert.equal(c.stats().nodes[owner]!.breaker.state, 'open');
    assert.notEqual(c.readNodeFor(topic), owner, 'reads moved off the dead owner');
    const entry = await c.get(topic);
    assert.ok(entry, 'a read served by the failover node');
    assert.ok(c.stats().failovers > 0);
    const health = await c.health();
    assert.equal(health.healthy, false);
    assert.equal(health.available, true);
    assert.match(health.nodes[victim]!.reason ?? '', /circuit breaker is open|CONNECTION_REFUSED/);

    await c.register('born-while-down'); // reaches only the two live nodes

    nodes[victim] = await startTestBroker({ port, dataDir, nodeId: victim + 1, compat });
    // The breaker re-probes by itself after openDurationMs and closes.
    for (let i = 0; i < 40 && c.stats().nodes[owner]!.breaker.state !== 'closed'; i++) await sleep(50);
    assert.equal(c.stats().nodes[owner]!.breaker.state, 'closed');
    assert.equal(c.readNodeFor(topic), owner, 'reads returned to the owner');
    const before = putsByNode(c)[victim]!;
    for (let i = 0; i < 9; i++) await c.put(topic, `back-${i}`);
    assert.equal(putsByNode(c)[victim]! - before, 3, 'the node takes its share of writes again');
    assert.equal((await c.health()).healthy, true);

    // The node missed register('born-while-down'): its `unknown topic` is healed by registering there.
    const registers = c.stats().nodes[owner]!.requests.REGISTER?.ok ?? 0;
    for (let i = 0; i < 6; i++) await c.put('born-while-down', `late-${i}`);
    assert.equal(c.stats().nodes[owner]!.requests.REGISTER!.ok, registers + 1);
    assert.equal(c.stats().nodes[owner]!.requests.PUT!.errors.TOPIC_NOT_FOUND, 1);
  });
});
