import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestBroker } from '../helpers/broker.js';
import { WalrusClient } from '../../src/client/index.js';
import { Producer } from '../../src/client/producer/producer.js';
import { Consumer } from '../../src/client/consumer/consumer.js';
import { EntryPacker } from '../../src/codec/index.js';
import { maxPayloadBytes } from '../../src/protocol/index.js';

// Whitespace the stock node's trim_end would eat, to end values with.
const WHITESPACE = [' ', '\t', '\n', '\r', '\u000b', '\u000c', '\u0085', '\u00a0', '\u2028', '\u3000', '\u200a'];
const trailing = fc.array(fc.constantFrom(...WHITESPACE), { maxLength: 4 }).map((a) => a.join(''));
const text = fc.tuple(fc.string({ unit: 'binary', maxLength: 200 }), trailing).map(([s, t]) => s + t);

// Mostly small values, sometimes one close to the largest that fits an entry (~49 KB).
const binary = fc.oneof({ weight: 12, arbitrary: fc.uint8Array({ maxLength: 3000 }) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 40_000, maxLength: 49_000 }) });

async function roundTrip<T>(client: WalrusClient, topic: string, serializer: 'raw' | 'string', values: T[], compression: 'none' | 'gzip' | 'brotli'): Promise<T[]> {
  const producer = new Producer<T>(client, { topic, serializer, compression, compressionThreshold: 256, linger: { maxRecords: 7 } });
  for (const v of values) void producer.send(v);
  await producer.close();
  const consumer = new Consumer<T>(client, { topic, serializer, stopWhenEmpty: true });
  const out: T[] = [];
  for await (const r of consumer) out.push(r.value);
  return out;
}

test('property: any value round-trips byte-exact through a stock node (binary, unicode, trailing whitespace, empty)', async () => {
  const node = await startTestBroker({ compat: 'stock' });
  const client = new WalrusClient({ nodes: [node.address] });
  try {
    const codec = fc.constantFrom('none', 'gzip', 'brotli') as fc.Arbitrary<'none' | 'gzip' | 'brotli'>;
    await fc.assert(
      fc.asyncProperty(fc.array(binary, { minLength: 1, maxLength: 20 }), codec, async (values, compression) => {
        const back = await roundTrip<Uint8Array>(client, 'bin', 'raw', values, compression);
        assert.deepEqual(back.map((b) => Buffer.from(b).toString('hex')), values.map((b) => Buffer.from(b).toString('hex')));
      }),
      { numRuns: 60 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 20 }), codec, async (values, compression) => {
        assert.deepEqual(await roundTrip<string>(client, 'txt', 'string', values, compression), values);
      }),
      { numRuns: 60 },
    );
  } finally {
    await client.close();
    await node.close();
  }
});

test('the largest value that fits one entry round-trips through a stock node; one byte more is MESSAGE_TOO_LARGE', async () => {
  const node = await startTestBroker({ compat: 'stock' });
  const client = new WalrusClient({ nodes: [node.address] });
  try {
    const topic = 'max';
    const packer = new EntryPacker({ limit: maxPayloadBytes(topic), contentType: 'application/octet-stream' });
    const fits = (n: number) => {
      try {
        packer.assertFits({ value: Buffer.alloc(n), timestamp: Date.now() });
        return true;
      } catch {
        return false;
      }
    };
    let lo = 0;
    let hi = 65_536;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (fits(mid)) lo = mid;
      else hi = mid - 1;
    }
    const value = Buffer.from(Array.from({ length: lo }, (_, i) => (i * 7919) & 0xff));
    const producer = new Producer<Uint8Array>(client, { topic, serializer: 'raw' });
    await producer.send(value);
    await assert.rejects(producer.send(Buffer.alloc(lo + 1)), (e: unknown) => (e as { code: string }).code === 'MESSAGE_TOO_LARGE' && (e as { context: { limit: number } }).context.limit === maxPayloadBytes(topic));
    await producer.close();
    assert.ok(producer.stats.bytes > maxPayloadBytes(topic) - 8, `entry of ${producer.stats.bytes} bytes fills the frame`);
    const consumer = new Consumer<Uint8Array>(client, { topic, serializer: 'raw', stopWhenEmpty: true });
    const records = [];
    for await (const r of consumer) records.push(r);
    assert.equal(records.length, 1);
    assert.ok(Buffer.from(records[0]!.value).equals(value), `${lo}-byte value round-trips`);
  } finally {
    await client.close();
    await node.close();
  }
});

test('text format values round-trip byte-exact through a stock node for other clients', async () => {
  const node = await startTestBroker({ compat: 'stock' });
  const client = new WalrusClient({ nodes: [node.address] });
  try {
    const allowed = fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }).filter((s) => !/[\s\u0085]$/u.test(s) && !s.startsWith('ws1:'));
    await fc.assert(
      fc.asyncProperty(fc.array(allowed, { minLength: 1, maxLength: 10 }), async (values) => {
        const producer = new Producer<string>(client, { topic: 'plain', serializer: 'string', format: 'text' });
        for (const v of values) void producer.send(v);
        await producer.close();
        const raw: string[] = [];
        for (let e = await client.get('plain'); e !== undefined; e = await client.get('plain')) raw.push(e.toString('utf8'));
        assert.deepEqual(raw, values);
      }),
      { numRuns: 40 },
    );
  } finally {
    await client.close();
    await node.close();
  }
});
