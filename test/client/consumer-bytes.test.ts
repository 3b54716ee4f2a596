import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { WalrusClient } from '../../src/client/index.js';
import { Producer } from '../../src/client/producer/producer.js';
import { Consumer } from '../../src/client/consumer/consumer.js';
import { WalrusError } from '../../src/errors/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

/**
 * A compressed entry is at most 64 KiB on the node but may decode to 32 MiB
 * (MAX_DECOMPRESSED_BYTES): a value of 4 MB of repeated text gzips to a few
 * KiB. The consumer's bufferSize counts records, so before, a reader that
 * paused after one record let the consumer fetch and decode up to
 * bufferSize (1,000) such records: 24 entries of 30 MB values took 690 MB
 * within two seconds, on the way to 30 GB. `maxBufferedBytes` bounds the
 * decoded bytes it holds; entries fetched beyond it wait undecoded.
 */

const VALUE_BYTES = 4_000_000;
const ENTRIES = 12;
const LIMIT = 10_000_000;

async function withBigRecords(fn: (client: WalrusClient, topic: string) => Promise<void>, smallFirst = false): Promise<void> {
  const node: TestBroker = await startTestBroker();
  const client = new WalrusClient({ nodes: [node.address] });
  try {
    const topic = 'big';
    const producer = new Producer<string>(client, { topic, compression: 'gzip', linger: { maxRecords: 1 } });
    // A small entry first makes the consumer expect small ones: its next fetch asks for many.
    if (smallFirst) await producer.send('small:');
    // One record per entry, each a few KiB on the node and 4 MB decoded.
    for (let i = 0; i < ENTRIES; i++) await producer.send(`${i}:`.padEnd(VALUE_BYTES, 'x'));
    await producer.close();
    await fn(client, topic);
  } finally {
    await client.close();
    await node.close();
  }
}

const index = (value: string): number => Number(value.slice(0, value.indexOf(':')));

test('a slow reader of highly compressed records: the consumer holds at most maxBufferedBytes decoded, plus one entry, and delivers every record once, in order', () =>
  withBigRecords(async (client, topic) => {
    const consumer = new Consumer<string>(client, { topic, maxBufferedBytes: LIMIT, stopWhenEmpty: true });
    const seen: number[] = [];
    const most = Math.floor(LIMIT / VALUE_BYTES) + 1;
    for await (const record of consumer) {
      seen.push(index(record.value));
      assert.ok(consumer.stats.buffered <= most, `holds ${consumer.stats.buffered} records of 4 MB (at most ${most} allowed)`);
      assert.ok(consumer.stats.bufferedBytes <= LIMIT + VALUE_BYTES + 64, `holds ${consumer.stats.bufferedBytes} bytes`);
      await delay(20); // a slow loop body: the fetch loop has all the time it wants
    }
    assert.deepEqual(seen, Array.from({ length: ENTRIES }, (_, i) => i));
    assert.ok(consumer.stats.maxBuffered <= most, `held ${consumer.stats.maxBuffered} records of 4 MB at once (at most ${most} allowed)`);
  }));

test('close() hands back the records fetched but not delivered, decoded or not: none lost, none twice', () =>
  withBigRecords(async (client, topic) => {
    const consumer = new Consumer<string>(client, { topic, maxBufferedBytes: LIMIT, maxFetchEntries: 6 });
    const iterator = consumer[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value!.value, 'small:');
    const first = await iterator.next();
    assert.equal(index(first.value!.value), 0);
    await delay(200); // let it fetch what it will
    const taken = (await client.state(topic)).readCursor!;
    assert.ok(taken > consumer.stats.fetched, `entries wait undecoded: ${taken} taken from the node, ${consumer.stats.fetched} decoded`);
    assert.ok(consumer.stats.bufferedBytes <= LIMIT + VALUE_BYTES + 64, `holds ${consumer.stats.bufferedBytes} bytes`);
    const left = await consumer.close();
    let onNode = 0; // one record per entry
    while ((await client.get(topic)) !== undefined) onNode++;
    // JSON values: skip the opening quote.
    const handedBack = left.map((r) => index(Buffer.from(r.value).toString('utf8', 1, 12)));
    // Every record is either delivered, handed back by close(), or still on the node.
    assert.equal(1 + left.length + onNode, ENTRIES);
    assert.deepEqual(handedBack, Array.from({ length: left.length }, (_, i) => i + 1));
  }, true));

test('maxBufferedBytes is checked with a clear error', () => {
  const client = {} as WalrusClient;
  for (const bad of [0, -1, 1.5, Number.NaN, '10']) {
    assert.throws(() => new Consumer(client, { topic: 't', maxBufferedBytes: bad as number }), (e: unknown) =>
      e instanceof WalrusError && e.code === 'CONFIG_INVALID' && /maxBufferedBytes must be an integer >= 1/.test(e.message));
  }
});
