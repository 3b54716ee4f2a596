import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WalrusClient } from '../../src/client/index.js';
import { Producer } from '../../src/client/producer/producer.js';
import { MAX_DECOMPRESSED_BYTES, decodeEntry, newRecordIdBytes } from '../../src/codec/index.js';
import { maxPayloadBytes } from '../../src/protocol/index.js';
import { SinkPacker } from '../../src/runtime/worker/sink-packer.js';
import type { SinkWire } from '../../src/runtime/wire/messages.js';
import { startTestBroker } from '../helpers/broker.js';
import { sparse, tooLarge } from '../helpers/sparse.js';

// A value holding a sparse array of huge length (`a.length = 2 ** 32 - 1`, one assignment) was written by msgpackr
// hole by hole: ~84 s of a blocked thread before anything failed (the bounds below, 20 s, hold on a loaded host). The producer and the worker's sink packing now
// refuse it at once with MESSAGE_TOO_LARGE naming the length and the limit, like any record too large for an entry.

test('Producer with the msgpack serializer: a value holding a huge sparse array is refused at once, the producer keeps working', async (t) => {
  const node = await startTestBroker();
  const client = new WalrusClient({ nodes: [node.address] });
  t.after(async () => { await client.close(); await node.close(); });
  // Sizes whose old cost stays in seconds (2^32 - 1 holes took ~84 s): the length alone decides now.
  const plain = new Producer<unknown>(client, { topic: 'orders', serializer: 'msgpack' });
  const gzip = new Producer<unknown>(client, { topic: 'zipped', serializer: 'msgpack', compression: 'gzip' });
  const started = performance.now();
  await assert.rejects(plain.send({ a: sparse(2 ** 24) }), tooLarge(2 ** 24, maxPayloadBytes('orders')));
  // Compressed, an entry may hold more before compression, but never more than readers decompress.
  await assert.rejects(gzip.send({ a: sparse(MAX_DECOMPRESSED_BYTES + 1) }), tooLarge(MAX_DECOMPRESSED_BYTES + 1, MAX_DECOMPRESSED_BYTES));
  await assert.rejects(gzip.send({ nested: [{ a: sparse(2 ** 32 - 1) }] }), tooLarge(2 ** 32 - 1, MAX_DECOMPRESSED_BYTES));
  assert.ok(performance.now() - started < 20_000, `took ${Math.round(performance.now() - started)} ms`);
  // A long array that compresses into one entry is still written.
  await gzip.send({ zeros: new Array(100_000).fill(0) });
  await plain.send({ ok: [1, 2] });
  await Promise.all([plain.flush(), gzip.flush()]);
  const [entry] = await client.getMany('orders', 10);
  assert.deepEqual(decodeEntry(entry!.toString('utf8')).length, 1);
  const [zipped] = await client.getMany('zipped', 10);
  assert.ok(decodeEntry(zipped!.toString('utf8'))[0]!.value.byteLength > maxPayloadBytes('zipped'), 'larger than an uncompressed entry');
  await Promise.all([plain.close(), gzip.close()]);
});

test('worker sink packing: an output holding a huge sparse array fails with MESSAGE_TOO_LARGE at once, for a msgpack and a JSON sink', () => {
  const packer = new SinkPacker();
  const sink = (serializer: SinkWire['serializer'], compression: SinkWire['compression']): SinkWire => ({
    name: `s-${serializer}-${compression}`, topic: 'out', format: 'envelope', serializer, compression, compressionThreshold: 1024, partitions: 1,
  } as SinkWire);
  const started = performance.now();
  for (const serializer of ['msgpack', 'json'] as const) {
    assert.throws(() => packer.prepare(sink(serializer, 'none'), { a: sparse(2 ** 24) }, newRecordIdBytes(), undefined, {}, Date.now()), tooLarge(2 ** 24, maxPayloadBytes('out')));
    assert.throws(() => packer.prepare(sink(serializer, 'brotli'), { a: sparse(2 ** 32 - 1) }, newRecordIdBytes(), undefined, {}, Date.now()), tooLarge(2 ** 32 - 1, MAX_DECOMPRESSED_BYTES));
  }
  assert.ok(performance.now() - started < 20_000, `took ${Math.round(performance.now() - started)} ms`);
  const item = packer.prepare(sink('msgpack', 'none'), { a: [1, 2, 3] }, newRecordIdBytes(), undefined, {}, Date.now());
  assert.ok(item.value.byteLength > 0);
});
