import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { unpack } from 'msgpackr';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { WalrusClient } from '../../src/client/index.js';
import { Producer, type ProducerClient } from '../../src/client/producer/producer.js';
import { decodeEntry } from '../../src/codec/index.js';
import { maxPayloadBytes } from '../../src/protocol/index.js';
import { WalrusError } from '../../src/errors/index.js';

/** The real client, with its putMany calls counted and their entry counts recorded. */
function counting(client: WalrusClient): ProducerClient & { writes: number[] } {
  const writes: number[] = [];
  return {
    writes,
    register: (topic) => client.register(topic),
    putMany: (topic, payloads) => {
      writes.push(payloads.length);
      return client.putMany(topic, payloads);
    },
  };
}

/** The envelope's MessagePack batch map, to look at its flags. */
function batchOf(entry: Buffer): { c?: string } {
  return unpack(Buffer.from(entry.toString('latin1').slice(4), 'base64url')) as { c?: string };
}

async function drain(client: WalrusClient, topic: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let e = await client.get(topic); e !== undefined; e = await client.get(topic)) out.push(e);
  return out;
}

async function withNode(compat: 'default' | 'stock', fn: (node: TestBroker, client: WalrusClient) => Promise<void>): Promise<void> {
  const node = await startTestBroker({ compat });
  const client = new WalrusClient({ nodes: [node.address] });
  try {
    await fn(node, client);
  } finally {
    await client.close();
    await node.close();
  }
}

test('linger maxRecords packs records into one entry per batch; send resolves after the ack', () =>
  withNode('default', async (_node, client) => {
    const counted = counting(client);
    const producer = new Producer<{ i: number }>(counted, { topic: 'orders', linger: { maxRecords: 10, maxWaitMs: 60_000 } });
    const first = Array.from({ length: 10 }, (_, i) => producer.send({ i }));
    await Promise.all(first);
    // The 10th send cut the batch: one write of one entry, readable right away.
    assert.deepEqual(counted.writes, [1]);
    const entries = await drain(client, 'orders');
    assert.equal(entries.length, 1);
    assert.deepEqual(decodeEntry(entries[0]!).map((r) => JSON.parse(Buffer.from(r.value).toString()).i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const s = producer.send({ i: 99 });
    assert.equal(producer.stats.records, 10, 'the 11th record waits for linger');
    await producer.flush();
    await s;
    assert.deepEqual(producer.stats, { records: 11, entries: 2, bytes: producer.stats.bytes, writes: 2, failed: 0 });
    await producer.close();
    await assert.rejects(producer.send({ i: 1 }), { code: 'POOL_CLOSED' });
  }));

test('linger maxWaitMs writes a partial batch on its own; maxBytes cuts early', () =>
  withNode('default', async (_node, client) => {
    const counted = counting(client);
    const producer = new Producer<string>(counted, { topic: 'lw', serializer: 'string', linger: { maxRecords: 1000, maxWaitMs: 1 } });
    await producer.send('alone');
    assert.deepEqual(counted.writes, [1]);
    const bytes = new Producer<string>(counted, { topic: 'lw', serializer: 'string', linger: { maxRecords: 1000, maxBytes: 2000, maxWaitMs: 60_000 } });
    const sends = Array.from({ length: 20 }, () => bytes.send('x'.repeat(180)));
    await Promise.all(sends.slice(0, 10)); // cut by bytes well before 1000 records
    await bytes.close();
    assert.ok(bytes.stats.writes >= 2, `${bytes.stats.writes} writes`);
    assert.equal(bytes.stats.records, 20);
  }));

test('many batches go out as few putMany calls, and every entry fits the frame', () =>
  withNode('default', async (_node, client) => {
    const counted = counting(client);
    const producer = new Producer<Uint8Array>(counted, { topic: 'bulk', serializer: 'raw', linger: { maxRecords: 5000, maxBytes: 1 << 22 } });
    const value = randomBytes(100);
    for (let i = 0; i < 20_000; i++) void producer.send(value);
    await producer.close();
    assert.equal(producer.stats.records, 20_000);
    const entries = await drain(client, 'bulk');
    assert.equal(entries.length, producer.stats.entries);
    assert.ok(entries.length < 100, `${entries.length} entries for 20,000 records`);
    assert.ok(counted.writes.length <= 5, `${counted.writes.length} writes`);
    for (const e of entries) assert.ok(e.length <= maxPayloadBytes('bulk'));
    assert.equal(entries.flatMap((e) => decodeEntry(e)).length, 20_000);
  }));

test('a record too large even compressed is MESSAGE_TOO_LARGE with size and limit; its neighbours are written', () =>
  withNode('default', async (_node, client) => {
    const producer = new Producer<Uint8Array>(client, { topic: 'big', serializer: 'raw', compression: 'gzip' });
    const ok1 = producer.send(Buffer.from('before'));
    await assert.rejects(producer.send(randomBytes(70_000)), (e: unknown) => {
      assert.ok(e instanceof WalrusError);
      assert.equal(e.code, 'MESSAGE_TOO_LARGE');
      assert.equal(e.context.limit, maxPayloadBytes('big'));
      assert.ok((e.context.size as number) > 70_000);
      return true;
    });
    const ok2 = producer.send(Buffer.alloc(200_000, 'a')); // compresses to fit
    await Promise.all([ok1, ok2]);
    await producer.close();
    const values = (await drain(client, 'big')).flatMap((e) => decodeEntry(e)).map((r) => r.value.length);
    assert.deepEqual(values, [6, 200_000]);
  }));

test('compression above the threshold is flagged in the entry and read back', () =>
  withNode('stock', async (_node, client) => {
    const producer = new Producer<object>(client, { topic: 'z', compression: 'brotli', compressionThreshold: 512 });
    const uncompressed = new Producer<object>(client, { topic: 'u' });
    for (let i = 0; i < 200; i++) {
      const value = { order: i, status: 'accepted', customer: 'customer-000042', note: 'the same text in every record' };
      void producer.send(value);
      void uncompressed.send(value);
    }
    await Promise.all([producer.close(), uncompressed.close()]);
    const [entry, ...rest] = await drain(client, 'z');
    const [plain] = await drain(client, 'u');
    assert.equal(rest.length, 0);
    // Record ids are random and do not compress; the values do.
    assert.ok(entry!.length < plain!.length / 2, `compressed entry is ${entry!.length} bytes, plain ${plain!.length}`);
    const below = new Producer<object>(client, { topic: 'small', compression: 'gzip', compressionThreshold: 1 << 20 });
    await below.send({ tiny: true });
    const [small] = await drain(client, 'small');
    assert.equal(batchOf(small!).c, undefined, 'below the threshold: not compressed');
    assert.equal(batchOf(entry!).c, 'br', 'the envelope flags brotli');
    assert.equal(batchOf(plain!).c, undefined);
    const records = decodeEntry(entry!);
    assert.equal(records.length, 200);
    assert.equal(JSON.parse(Buffer.from(records[199]!.value).toString()).order, 199);
    assert.equal(records[0]!.headers['content-type'], 'application/json');
  }));

test('send copies the value and headers: reusing them afterwards changes nothing', () =>
  withNode('default', async (_node, client) => {
    const producer = new Producer<Uint8Array>(client, { topic: 'reuse', serializer: 'raw', linger: { maxWaitMs: 60_000 } });
    const buf = Buffer.from('first');
    const headers = { tag: 'one' };
    const sent = producer.send(buf, { headers });
    buf.write('XXXXX');
    headers.tag = 'two';
    await producer.flush();
    await sent;
    const [record] = (await drain(client, 'reuse')).flatMap((e) => decodeEntry(e));
    assert.equal(Buffer.from(record!.value).toString(), 'first');
    assert.equal(record!.headers.tag, 'one');
  }));

test('keys, headers, ids and timestamps travel with each record', () =>
  withNode('default', async (_node, client) => {
    const producer = new Producer<string>(client, { topic: 'h', serializer: 'string', now: () => 1_000 });
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    void producer.send('a', { key: 'k', headers: { 'correlation-id': 'c1', traceparent }, id: 'my-id' });
    void producer.send('b', { timestamp: 5_000 });
    await assert.rejects(producer.send('c', { headers: { traceparent: 'nope' } }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(producer.send('c', { headers: { n: 1 as unknown as string } }), /header "n" must be a string/);
    await producer.close();
    const [a, b] = (await drain(client, 'h')).flatMap((e) => decodeEntry(e));
    assert.equal(a!.id, 'my-id');
    assert.equal(a!.key, 'k');
    assert.equal(a!.timestamp, 1_000);
    assert.equal(a!.headers['correlation-id'], 'c1');
    assert.equal(a!.headers.traceparent, traceparent);
    assert.equal(b!.timestamp, 5_000);
    assert.equal(b!.key, undefined);
  }));

test('text format writes plain entries other clients read, and refuses values the stock node would alter', () =>
  withNode('stock', async (_node, client) => {
    const producer = new Producer<string>(client, { topic: 'plain', serializer: 'string', format: 'text' });
    await Promise.all([producer.send('  line one'), producer.send('{"json":true}')]);
    for (const [value, code] of [['trailing ', 'INVALID_PAYLOAD'], ['', 'INVALID_PAYLOAD'], ['ws1:looks-like-envelope', 'INVALID_PAYLOAD']] as const) {
      await assert.rejects(producer.send(value), { code });
    }
    await assert.rejects(producer.send('x', { key: 'k' }), /no room for a key/);
    await producer.close();
    assert.deepEqual((await drain(client, 'plain')).map(String), ['  line one', '{"json":true}']);
    assert.throws(() => new Producer(client, { topic: 'plain', format: 'text', compression: 'gzip' }), { code: 'CONFIG_INVALID' });
  }));

test('a failed write rejects each affected send and the next flush, never silently', () =>
  withNode('default', async (_node, client) => {
    const producer = new Producer<number>(client, { topic: 'never-registered', register: false, linger: { maxWaitMs: 0 } });
    const sends = [producer.send(1), producer.send(2)];
    for (const s of sends) await assert.rejects(s, { code: 'TOPIC_NOT_FOUND' });
    await assert.rejects(producer.flush(), { code: 'TOPIC_NOT_FOUND' });
    await producer.flush(); // the failure was reported once
    assert.equal(producer.stats.failed, 2);
    void producer.send(3); // unawaited: must not crash the process
    await assert.rejects(producer.close(), { code: 'TOPIC_NOT_FOUND' });
  }));

test('close() covers exactly what was sent before it: a send during close() is refused at once, a second close() waits too', () =>
  withNode('default', async (_node, client) => {
    const producer = new Producer<number>(client, { topic: 'closing', linger: { maxWaitMs: 60_000 } });
    void producer.send(0); // fire and forget
    const closing = producer.close();
    // Accepted before, into a new batch behind a 60 s linger that close() did
    // not wait for: close() resolved, the client was closed, the record was lost.
    const late = producer.send(1).then(() => 'written', (error: unknown) => (error as WalrusError).code);
    const again = producer.close();
    let secondDone = false;
    void again.then(() => (secondDone = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await Promise.race([late, new Promise((resolve) => setImmediate(resolve, 'pending'))]), 'POOL_CLOSED');
    await closing;
    await again;
    assert.equal(secondDone, true);
    assert.equal(producer.stats.records, 1);
    assert.deepEqual((await drain(client, 'closing')).flatMap((e) => decodeEntry(e).map((r) => JSON.parse(Buffer.from(r.value).toString()))), [0]);
    await assert.rejects(producer.send(2), { code: 'POOL_CLOSED' });
  }));

test('a value that refers to itself or nests too deeply is a SERIALIZATION_ERROR saying so, in every serializer; the producer keeps working', () =>
  withNode('default', async (_node, client) => {
    const cyclic: Record<string, unknown> = { id: 1 };
    cyclic.self = cyclic;
    let deep: unknown = 0;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    for (const serializer of ['json', 'msgpack'] as const) {
      const producer = new Producer<unknown>(client, { topic: `deep-${serializer}`, serializer });
      // msgpack said only "Maximum call stack size exceeded" (for a cycle too).
      await assert.rejects(producer.send(cyclic), (e: unknown) => e instanceof WalrusError && e.code === 'SERIALIZATION_ERROR' && /circular|cycle/.test(e.message));
      await assert.rejects(producer.send(deep), (e: unknown) => e instanceof WalrusError && e.code === 'SERIALIZATION_ERROR' && /nests too deeply or refers to itself/.test(e.message));
      await producer.send({ fine: true });
      await producer.close();
      assert.equal(producer.stats.records, 1);
    }
  }));

test('a send loop that never awaits is bounded by maxBufferedBytes: past it sends are refused (PRODUCER_FULL) and so is the next flush; awaited sends never are', () =>
  withNode('default', async (_node, client) => {
    // Before: nothing bounded it (1e6 sends of 100 bytes queued 188 MB before the first write).
    const limit = 256 * 1024;
    const producer = new Producer<{ i: number; pad: string }>(client, { topic: 'bounded', maxBufferedBytes: limit });
    const pad = 'x'.repeat(100);
    let peak = 0;
    const refused: unknown[] = [];
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < 20_000; i++) {
      const sent = producer.send({ i, pad });
      sent.catch((error: unknown) => { refused.push(error); });
      sends.push(sent);
      peak = Math.max(peak, producer.bufferedBytes);
    }
    const outcomes = await Promise.allSettled(sends);
    const accepted = outcomes.filter((o) => o.status === 'fulfilled').length;
    assert.ok(peak <= limit, `held ${peak} bytes, more than maxBufferedBytes ${limit}`);
    assert.ok(accepted > 1000 && accepted < 20_000, `${accepted} of 20,000 accepted`);
    assert.equal(refused.length, 20_000 - accepted);
    const first = refused[0] as WalrusError;
    assert.equal(first.code, 'PRODUCER_FULL');
    assert.equal(first.retriable, true);
    assert.match(first.message, /Producer for topic bounded already holds \d+ bytes of records not yet acknowledged \(maxBufferedBytes 262144\); this record was not sent\. Await earlier sends/);
    await assert.rejects(producer.flush(), { code: 'PRODUCER_FULL' });
    assert.equal(producer.bufferedBytes, 0);
    assert.equal(producer.stats.records, accepted);
    assert.equal(producer.stats.failed, 20_000 - accepted);
    const written = (await drain(client, 'bounded')).flatMap((e) => decodeEntry(e).map((r) => (JSON.parse(Buffer.from(r.value).toString()) as { i: number }).i));
    assert.equal(written.length, accepted, 'every accepted record written once');
    // Awaited now and then, the same volume is never refused.
    for (let i = 0; i < 20_000; i++) {
      const sent = producer.send({ i, pad });
      if (i % 1000 === 999) await sent;
    }
    await producer.close();
    assert.equal(producer.stats.records, accepted + 20_000);
    assert.throws(() => new Producer(client, { topic: 't', maxBufferedBytes: 0 }), /maxBufferedBytes must be an integer >= 1/);
  }));

test('options are checked with clear errors', () => {
  const client: ProducerClient = { register: async () => undefined, putMany: async () => undefined };
  assert.throws(() => new Producer(client, { topic: 'bad topic' }), { code: 'INVALID_TOPIC' });
  assert.throws(() => new Producer(client, { topic: 't', linger: { maxRecords: 0 } }), /linger.maxRecords must be an integer >= 1/);
  assert.throws(() => new Producer(client, { topic: 't', compression: 'zstd' as 'gzip' }), { code: 'CONFIG_INVALID' });
  assert.throws(() => new Producer(client, { topic: 't', serializer: 'yaml' as 'json' }), { code: 'CONFIG_INVALID' });
});
