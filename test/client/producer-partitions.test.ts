import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withBroker } from '../helpers/broker.js';
import { WalrusClient } from '../../src/client/index.js';
import { Producer } from '../../src/client/producer/producer.js';
import { decodeEntry } from '../../src/codec/index.js';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { WalrusError } from '../../src/errors/index.js';

async function drain(client: WalrusClient, topic: string): Promise<Array<{ key: string | undefined; value: unknown }>> {
  const out: Array<{ key: string | undefined; value: unknown }> = [];
  for (let e = await client.get(topic); e !== undefined; e = await client.get(topic)) {
    for (const r of decodeEntry(e, { topic })) out.push({ key: r.key, value: JSON.parse(Buffer.from(r.value).toString()) });
  }
  return out;
}

test('a partitioned producer writes each key to fnv1a32(key) % n in send order, keyless records round-robin', { timeout: 20_000 }, async () => {
  await withBroker(async (node) => {
    const client = new WalrusClient({ nodes: [node.address] });
    try {
      const producer = new Producer<{ i: number }>(client, { topic: 'orders', partitions: 3 });
      const keys = Array.from({ length: 12 }, (_, k) => `customer-${k}`);
      const sends: Array<Promise<void>> = [];
      for (let i = 0; i < 120; i += 1) sends.push(producer.send({ i }, { key: keys[i % keys.length]! }));
      for (let i = 0; i < 6; i += 1) sends.push(producer.send({ i: 1000 + i }));
      await Promise.all(sends);
      await producer.close();
      assert.equal(producer.stats.records, 126);

      const parts = [await drain(client, 'orders.p0'), await drain(client, 'orders.p1'), await drain(client, 'orders.p2')];
      await assert.rejects(client.get('orders'), (e: unknown) => e instanceof WalrusError && e.code === 'TOPIC_NOT_FOUND', 'the logical topic itself is never written');
      for (const [p, records] of parts.entries()) {
        const keyed = records.filter((r) => r.key !== undefined);
        for (const r of keyed) assert.equal(partitionOfKey(r.key!, 3), p, `${r.key} in partition ${p}`);
        // Per key, send order is kept.
        for (const key of keys) {
          const seq = keyed.filter((r) => r.key === key).map((r) => (r.value as { i: number }).i);
          assert.deepEqual(seq, [...seq].sort((a, b) => a - b));
        }
        assert.equal(records.filter((r) => r.key === undefined).length, 2, `two keyless records in partition ${p}`);
      }
      assert.equal(parts.flat().length, 126);
    } finally {
      await client.close();
    }
  });
});

test('partitions must be a whole number from 1 to 1024', () => {
  const client = { register: async () => undefined, putMany: async () => undefined };
  for (const bad of [0, 1.5, 2000]) {
    assert.throws(() => new Producer(client, { topic: 'orders', partitions: bad }), (e: unknown) => e instanceof WalrusError && e.code === 'CONFIG_INVALID' && /partitions/.test(e.message));
  }
});
