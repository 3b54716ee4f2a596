import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionRouter, keyHash, ownedPartitions, partitionOfKey, partitionTopic, partitionTopics } from '../../src/codec/partitioning.js';
import { WalrusError } from '../../src/errors/index.js';

// The vectors docs/scaling.md publishes for other languages: keep the two in step.
// The first three are the published FNV-1a 32 vectors; the rest cover multi-byte UTF-8.
const VECTORS: Array<[key: string, hash: number, of4: number, of3: number]> = [
  ['', 0x811c9dc5, 1, 1],
  ['a', 0xe40c292c, 0, 1],
  ['foobar', 0xbf9cf968, 0, 1],
  ['customer-1', 0x124fb217, 3, 1],
  ['customer-2', 0x134fb3aa, 2, 0],
  ['order:42', 0x491db2f1, 1, 2],
  ['Zürich', 0xd7007f20, 0, 2],
  ['🙂', 0x57a37a4b, 3, 0],
];

test('the key hash is 32-bit FNV-1a of the UTF-8 bytes, partition = hash % n', () => {
  for (const [key, hash, of4, of3] of VECTORS) {
    assert.equal(keyHash(key), hash, JSON.stringify(key));
    assert.equal(partitionOfKey(key, 4), of4, `${JSON.stringify(key)} of 4`);
    assert.equal(partitionOfKey(key, 3), of3, `${JSON.stringify(key)} of 3`);
    assert.equal(partitionOfKey(key, 1), 0);
  }
});

test('the vectors in docs/scaling.md are the ones tested here', async () => {
  const { readFile } = await import('node:fs/promises');
  const doc = await readFile(new URL('../../docs/scaling.md', import.meta.url), 'utf8');
  for (const [key, hash, of4, of3] of VECTORS) {
    const row = `| \`${JSON.stringify(key)}\` | \`0x${hash.toString(16).padStart(8, '0')}\` | ${of4} | ${of3} |`;
    assert.ok(doc.includes(row), `docs/scaling.md lacks the row ${row}`);
  }
});

test('naming: one partition is the topic itself, n are <topic>.p<i>', () => {
  assert.equal(partitionTopic('orders', 0, 1), 'orders');
  assert.deepEqual(partitionTopics('orders', 1), ['orders']);
  assert.deepEqual(partitionTopics('orders', 3), ['orders.p0', 'orders.p1', 'orders.p2']);
});

test('ownership: instance i of n owns the partitions p with p % n === i, each exactly once', () => {
  assert.deepEqual(ownedPartitions(4, 0, 2), [0, 2]);
  assert.deepEqual(ownedPartitions(4, 1, 2), [1, 3]);
  assert.deepEqual(ownedPartitions(4, 2, 3), [2]);
  assert.deepEqual(ownedPartitions(1, 1, 2), []);
  for (const [parts, n] of [[8, 3], [5, 5], [3, 4]] as const) {
    const all = Array.from({ length: n }, (_, i) => ownedPartitions(parts, i, n)).flat().sort((a, b) => a - b);
    assert.deepEqual(all, Array.from({ length: parts }, (_, p) => p));
  }
});

test('the router: keys by hash, keyless records round-robin', () => {
  const router = new PartitionRouter(3);
  assert.deepEqual([undefined, undefined, undefined, undefined].map((k) => router.route(k)), [0, 1, 2, 0]);
  assert.equal(router.route('order:42'), 2);
  assert.equal(new PartitionRouter(1).route(undefined), 0);
  assert.throws(() => new PartitionRouter(0), (e: unknown) => e instanceof WalrusError && e.code === 'CONFIG_INVALID' && /1 to 1024/.test(e.message));
});
