import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { WalrusClient } from '../../src/client/index.js';
import { Producer } from '../../src/client/producer/producer.js';
import { Consumer } from '../../src/client/consumer/consumer.js';
import { WalrusError } from '../../src/errors/index.js';

async function withNode(fn: (client: WalrusClient, node: TestBroker) => Promise<void>, compat: 'default' | 'stock' = 'default'): Promise<void> {
  const node = await startTestBroker({ compat });
  const client = new WalrusClient({ nodes: [node.address] });
  try {
    await fn(client, node);
  } finally {
    await client.close();
    await node.close();
  }
}

async function produce(client: WalrusClient, topic: string, count: number, perEntry: number): Promise<void> {
  const producer = new Producer<{ n: number }>(client, { topic, linger: { maxRecords: perEntry, maxWaitMs: 60_000 } });
  for (let n = 0; n < count; n++) void producer.send({ n });
  await producer.close();
}

test('backpressure: a slow consumer never holds more than its buffer (one record per entry)', () =>
  withNode(async (client) => {
    await produce(client, 'bp1', 300, 1);
    const consumer = new Consumer<{ n: number }>(client, { topic: 'bp1', bufferSize: 20, stopWhenEmpty: true });
    let expected = 0;
    for await (const record of consumer) {
      assert.equal(record.value.n, expected++);
      const s = consumer.stats;
      assert.ok(s.buffered <= 20, `holds ${s.buffered}`);
      assert.ok(s.fetched - s.delivered <= 20, `fetched ${s.fetched}, delivered ${s.delivered}`);
      await tick();
    }
    assert.equal(expected, 300);
    assert.ok(consumer.stats.maxBuffered <= 20 && consumer.stats.maxBuffered > 1);
  }));

test('backpressure with record batches: entries are taken whole and the buffer still holds', () =>
  withNode(async (client) => {
    await produce(client, 'bp10', 400, 10);
    const consumer = new Consumer<{ n: number }>(client, { topic: 'bp10', bufferSize: 25, stopWhenEmpty: true });
    let count = 0;
    for await (const record of consumer) {
      assert.equal(record.value.n, count++);
      assert.ok(consumer.stats.buffered <= 25);
      if (count % 7 === 0) await tick();
    }
    assert.equal(count, 400);
    assert.ok(consumer.stats.maxBuffered <= 25, `max ${consumer.stats.maxBuffered}`);
  }));

test('a paused consumer stops fetching; close() hands back what it holds and nothing is lost', () =>
  withNode(async (client) => {
    await produce(client, 'pause', 200, 1);
    const consumer = new Consumer<{ n: number }>(client, { topic: 'pause', bufferSize: 30 });
    const first = await consumer.next();
    assert.equal(first.done, false);
    // Give the fetch loop many turns: it must not read past the buffer.
    for (let i = 0; i < 50; i++) await tick();
    const s = consumer.stats;
    assert.ok(s.fetched <= 31, `fetched ${s.fetched}`);
    const left = await consumer.close();
    assert.equal(left.length, consumer.stats.fetched - 1);
    assert.deepEqual(left.map((r) => JSON.parse(Buffer.from(r.value).toString()).n), Array.from({ length: left.length }, (_, i) => i + 1));
    let rest = 0;
    for (let e = await client.get('pause'); e !== undefined; e = await client.get('pause')) rest++;
    assert.equal(1 + left.length + rest, 200);
    assert.equal((await consumer.next()).done, true);
  }));

test('an empty topic is polled with a doubling wait up to maxPollMs, reset by data', () =>
  withNode(async (client) => {
    await client.register('idle');
    const waits: number[] = [];
    const consumer = new Consumer<string>(client, {
      topic: 'idle',
      serializer: 'string',
      minPollMs: 1,
      maxPollMs: 20,
      sleep: async (ms) => {
        waits.push(ms);
        if (waits.length === 8) await client.put('idle', 'wake up');
        await tick();
      },
    });
    const record = await consumer.next();
    assert.equal(record.value?.value, 'wake up');
    assert.deepEqual(waits, [1, 2, 4, 8, 16, 20, 20, 20]);
    const fetchesBefore = consumer.stats.fetches;
    await client.put('idle', 'again');
    assert.equal((await consumer.next()).value?.value, 'again');
    // After data the wait starts again at 1 ms.
    assert.equal(waits[8], 1);
    assert.ok(consumer.stats.fetches > fetchesBefore);
    await consumer.close();
  }));

test('rate limit: records/s enforced on a virtual clock', () =>
  withNode(async (client) => {
    await produce(client, 'rl', 100, 25);
    let now = 0;
    const consumer = new Consumer<{ n: number }>(client, {
      topic: 'rl',
      rateLimit: 50,
      stopWhenEmpty: true,
      now: () => now,
      sleep: async (ms) => {
        now += ms;
        await tick();
      },
    });
    let count = 0;
    for await (const _ of consumer) count++;
    assert.equal(count, 100);
    // 100 records at 50/s: the first is free, 99 wait 20 ms each.
    assert.ok(now >= 1_950 && now <= 2_050, `virtual time ${now} ms`);
  }));

test('a rate limit so low that the next token is months away: the consumer waits for it (no spinning, no TimeoutOverflowWarning) and close() ends the wait', () =>
  withNode(async (client) => {
    await produce(client, 'rl-tiny', 2, 1);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => { warnings.push(w.name); };
    process.on('warning', onWarning);
    try {
      const consumer = new Consumer<{ n: number }>(client, { topic: 'rl-tiny', rateLimit: 1e-7 });
      assert.equal((await consumer.next()).value?.value.n, 0, 'the first record takes the first token');
      let settled = false;
      const waiting = consumer.next().then((r) => { settled = true; return r; });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(settled, false, 'the second record waits for its token (about 116 days at 1e-7 records/s)');
      await consumer.close();
      assert.equal((await waiting).done, true, 'close() ends the wait');
      assert.deepEqual(warnings, [], 'no TimeoutOverflowWarning: the old code re-armed a 1 ms timer and spun');
    } finally {
      process.off('warning', onWarning);
    }
  }));

test('several loops over one rate-limited consumer share its records: each record once, none throws', () =>
  withNode(async (client) => {
    await produce(client, 'rl-loops', 300, 1);
    let now = 0;
    const consumer = new Consumer<{ n: number }>(client, {
      topic: 'rl-loops',
      rateLimit: 1_000,
      bufferSize: 4,
      stopWhenEmpty: true,
      now: () => now,
      sleep: async (ms) => {
        now += ms;
        await tick();
      },
    });
    // A loop that waited for a token must not take a record another loop took meanwhile
    // (it threw "Cannot use 'in' operator to search for 'failure' in undefined").
    const seen: number[] = [];
    const failures: unknown[] = [];
    await Promise.all(Array.from({ length: 6 }, async () => {
      try {
        for await (const r of consumer) seen.push(r.value.n);
      } catch (error) {
        failures.push(error);
      }
    }));
    assert.deepEqual(failures, []);
    assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i));
    assert.deepEqual(await consumer.close(), []);
  }));

test('deserialization failures are typed errors with the raw bytes, or go to the callback', () =>
  withNode(async (client) => {
    await client.register('mixed');
    await client.put('mixed', 'not json');
    await client.put('mixed', 'ws1:!!corrupt');
    await produce(client, 'mixed', 1, 1);
    const strict = new Consumer<{ n: number }>(client, { topic: 'mixed', stopWhenEmpty: true });
    await assert.rejects(strict.next(), (e: unknown) => {
      assert.ok(e instanceof WalrusError);
      assert.equal(e.code, 'DESERIALIZATION_ERROR');
      assert.deepEqual(e.context.raw, Buffer.from('not json'));
      assert.equal(e.context.topic, 'mixed');
      return true;
    });
    await assert.rejects(strict.next(), (e: unknown) => e instanceof WalrusError && e.code === 'DESERIALIZATION_ERROR' && String(e.context.raw) === 'ws1:!!corrupt');
    const good = await strict.next();
    assert.equal(good.value?.value.n, 0);
    assert.equal(strict.stats.deserializationErrors, 2);

    await client.put('mixed', 'still not json');
    await produce(client, 'mixed', 1, 1);
    const routed: WalrusError[] = [];
    const lenient = new Consumer<{ n: number }>(client, { topic: 'mixed', stopWhenEmpty: true, onDeserializationError: (e) => routed.push(e) });
    const values: number[] = [];
    for await (const r of lenient) values.push(r.value.n);
    assert.deepEqual(values, [0]);
    assert.equal(routed.length, 1);
    assert.equal(String(routed[0]!.context.raw), 'still not json');
  }));

test('plain text entries from other clients are string records with topic and a derived id', () =>
  withNode(async (client) => {
    await client.register('logs');
    await client.put('logs', '  GET /index.html 200');
    const consumer = new Consumer<string>(client, { topic: 'logs', serializer: 'string', maxRecords: 1 });
    const records = [];
    for await (const r of consumer) records.push(r);
    assert.equal(records.length, 1);
    assert.equal(records[0]!.value, '  GET /index.html 200');
    assert.equal(records[0]!.topic, 'logs');
    assert.match(records[0]!.id, /^t[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(records[0]!.headers, {});
  }, 'stock'));

test('break closes the consumer; close() during a long poll resolves at once', () =>
  withNode(async (client) => {
    await produce(client, 'brk', 50, 1);
    const consumer = new Consumer<{ n: number }>(client, { topic: 'brk', bufferSize: 5 });
    for await (const r of consumer) if (r.value.n === 2) break;
    const fetches = consumer.stats.fetches;
    for (let i = 0; i < 20; i++) await tick();
    assert.equal(consumer.stats.fetches, fetches, 'no fetch after break');
    assert.equal((await consumer.next()).done, true);
    // What was fetched but not delivered is still handed back by close().
    const left = await consumer.close();
    assert.equal(left.length, consumer.stats.fetched - 3);
    assert.deepEqual(left.map((r) => JSON.parse(Buffer.from(r.value).toString()).n), Array.from({ length: left.length }, (_, i) => i + 3));
    assert.deepEqual(await consumer.close(), []);

    await client.register('empty');
    const idle = new Consumer<string>(client, { topic: 'empty', minPollMs: 60_000, maxPollMs: 60_000 });
    const pending = idle.next();
    while (idle.stats.emptyFetches === 0) await tick();
    const started = Date.now();
    await idle.close();
    assert.equal((await pending).done, true);
    assert.ok(Date.now() - started < 5_000);
  }));

test('a permanent fetch error is thrown once, in order, and ends the iteration', () =>
  withNode(async (client) => {
    const consumer = new Consumer<string>(client, { topic: 'nowhere', register: false });
    await assert.rejects(consumer.next(), { code: 'TOPIC_NOT_FOUND' });
    assert.equal((await consumer.next()).done, true);
    assert.equal(consumer.stats.fetches, 0);
  }));

test('msgpack and custom serializers work end to end, typed', () =>
  withNode(async (client) => {
    interface Reading { sensor: string; at: Date; values: number[]; blob: Uint8Array }
    const reading: Reading = { sensor: 's-1', at: new Date(1_700_000_000_000), values: [1.5, -2, 2 ** 40], blob: new Uint8Array([0, 255]) };
    const mp = new Producer<Reading>(client, { topic: 'mp', serializer: 'msgpack' });
    await mp.send(reading, { key: 's-1' });
    const consumer = new Consumer<Reading>(client, { topic: 'mp', serializer: 'msgpack', maxRecords: 1 });
    for await (const r of consumer) {
      assert.equal(r.value.sensor, 's-1');
      assert.equal(r.value.at.getTime(), reading.at.getTime());
      assert.deepEqual(r.value.values, reading.values);
      assert.deepEqual([...r.value.blob], [0, 255]);
      assert.equal(r.headers['content-type'], 'application/msgpack');
    }
    const csv = {
      contentType: 'text/csv',
      serialize: (row: string[]) => row.join(','),
      deserialize: (bytes: Uint8Array) => Buffer.from(bytes).toString().split(','),
    };
    const cp = new Producer<string[]>(client, { topic: 'csv', serializer: csv });
    await cp.send(['a', 'b ', 'c']);
    const cc = new Consumer<string[]>(client, { topic: 'csv', serializer: csv, maxRecords: 1 });
    for await (const r of cc) {
      assert.deepEqual(r.value, ['a', 'b ', 'c']);
      assert.equal(r.headers['content-type'], 'text/csv');
    }
  }));

test('options are checked with clear errors', () => {
  const client = { register: async () => undefined, getMany: async () => [] };
  assert.throws(() => new Consumer(client, { topic: 't', bufferSize: 0 }), /bufferSize must be an integer >= 1/);
  assert.throws(() => new Consumer(client, { topic: 't', minPollMs: 50, maxPollMs: 10 }), /maxPollMs \(10\) must not be below minPollMs \(50\)/);
  assert.throws(() => new Consumer(client, { topic: 't', rateLimit: -1 }), { code: 'CONFIG_INVALID' });
  assert.throws(() => new Consumer(client, { topic: '' }), { code: 'INVALID_TOPIC' });
});
