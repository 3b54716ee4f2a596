import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Connection, Producer, WalrusClient } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { encodeMetrics, parseMetrics } from '../../src/protocol/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { startTcpPeer } from '../helpers/tcp-peer.js';

// Bad arguments fail with a WalrusError naming the argument, before anything
// is sent: never a raw TypeError/RangeError from deep inside, never silently
// accepted, never a call that can hang or retire a shared connection.

/** `error` is a WalrusError with `code` whose message names `argument`. */
function names(code: string, argument: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof WalrusError, `expected a WalrusError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, argument);
    return true;
  };
}

/** Nothing was sent: no request of any command reached the node through this client. */
function sentNothing(client: WalrusClient, node: string): void {
  assert.deepEqual(client.stats().nodes[node]!.requests, {});
}

const BAD_OPTIONS: Array<[label: string, options: unknown, argument: RegExp]> = [
  ['signal: 5', { signal: 5 }, /options\.signal must be an AbortSignal, got 5/],
  ['signal: {}', { signal: {} }, /options\.signal must be an AbortSignal/],
  ["timeoutMs: 'abc'", { timeoutMs: 'abc' }, /options\.timeoutMs must be a number of milliseconds above 0 .*got "abc"/],
  ['timeoutMs: NaN', { timeoutMs: Number.NaN }, /options\.timeoutMs .*got NaN/],
  ['timeoutMs: Infinity', { timeoutMs: Number.POSITIVE_INFINITY }, /options\.timeoutMs .*got Infinity/],
  ['timeoutMs: 0', { timeoutMs: 0 }, /options\.timeoutMs .*got 0/],
  ['timeoutMs: -1', { timeoutMs: -1 }, /options\.timeoutMs .*got -1/],
  ['timeoutMs: 1e12', { timeoutMs: 1e12 }, /options\.timeoutMs .*at most 86400000/],
  ['options: null', null, /options must be an object/],
];

for (const compat of ['default', 'stock'] as const) {
  describe(`argument checks (${compat} node)`, () => {
    let node: TestBroker;
    before(async () => {
      node = await startTestBroker({ compat });
    });
    after(async () => {
      await node.close();
    });

    test('every call taking CallOptions rejects a bad signal or timeoutMs with INVALID_ARGUMENT naming it, sending nothing', async () => {
      const client = new WalrusClient({ nodes: [node.address] });
      try {
        for (const [label, bad, argument] of BAD_OPTIONS) {
          const options = bad as Record<string, never>;
          const calls: Array<[string, () => Promise<unknown>]> = [
            ['register', () => client.register('t', options)],
            ['put', () => client.put('t', 'x', options)],
            ['get', () => client.get('t', options)],
            ['putMany', () => client.putMany('t', ['x'], options)],
            ['getMany', () => client.getMany('t', 1, 100, options)],
            ['lease', () => client.lease('t', 1, 100, options)],
            ['claim', () => client.claim('t', 'me', 1_000, options)],
            ['unclaim', () => client.unclaim('t', 'me', options)],
            ['state', () => client.state('t', options)],
            ['metrics', () => client.metrics(node.address, options)],
            ['metrics()', () => client.metrics(undefined, options)],
          ];
          for (const [call, run] of calls) {
            await assert.rejects(run(), names('INVALID_ARGUMENT', new RegExp(`^${call.replace('()', '')}\\(.*${argument.source}.*Nothing was sent`)), `${call} with ${label}`);
          }
        }
        sentNothing(client, node.address);
      } finally {
        await client.close();
      }
    });

    test('a topic that is not a string (a Symbol, a null-prototype object) is INVALID_TOPIC on every call, sending nothing', async () => {
      const client = new WalrusClient({ nodes: [node.address] });
      try {
        // put/get/state/register built their label `put(${topic})` first and
        // rejected with a bare TypeError "Cannot convert a Symbol value to a string".
        const topics: Array<[string, unknown]> = [['a Symbol', Symbol('orders')], ['a null-prototype object', Object.create(null)], ['null', null], ['5', 5]];
        for (const [label, topic] of topics) {
          const t = topic as string;
          const calls: Array<[string, () => Promise<unknown>]> = [
            ['register', () => client.register(t)],
            ['put', () => client.put(t, 'x')],
            ['get', () => client.get(t)],
            ['state', () => client.state(t)],
            ['putMany', () => client.putMany(t, ['x'])],
            ['getMany', () => client.getMany(t, 1)],
            ['lease', () => client.lease(t, 1)],
            ['claim', () => client.claim(t, 'me', 1_000)],
          ];
          for (const [call, run] of calls) {
            await assert.rejects(run(), names('INVALID_TOPIC', /^Invalid topic name: topic must be a string, got (symbol|object|number)/), `${call} with ${label}`);
          }
        }
        sentNothing(client, node.address);
      } finally {
        await client.close();
      }
    });

    test('metrics(node) and capabilities(node) with a node that is not an address are INVALID_ARGUMENT naming the call and the nodes', async () => {
      const client = new WalrusClient({ nodes: [node.address] });
      try {
        // Before: CONFIG_INVALID "node: host must be a non-empty string." (an option error, naming no call).
        for (const bad of [{}, 'nope', 5, { host: 'x', port: 0 }]) {
          const pattern = /^metrics\(\): node must be "host:port" or \{ host, port \}, one of this client's nodes \(127\.0\.0\.1:\d+\); node: .* Nothing was sent\./;
          await assert.rejects(client.metrics(bad as string), names('INVALID_ARGUMENT', pattern));
          assert.throws(() => client.capabilities(bad as string), names('INVALID_ARGUMENT', /^capabilities\(\): node must be/));
        }
        await assert.rejects(client.metrics('127.0.0.1:1'), names('INVALID_ARGUMENT', /Node 127\.0\.0\.1:1 is not one of this client's nodes/));
        sentNothing(client, node.address);
      } finally {
        await client.close();
      }
    });

    test('put with a payload that is not a string is INVALID_PAYLOAD naming the payload, sending nothing', async () => {
      const client = new WalrusClient({ nodes: [node.address] });
      try {
        const put = client.put.bind(client) as (topic: string, payload?: unknown) => Promise<void>;
        await assert.rejects(put('t', 123), names('INVALID_PAYLOAD', /payload must be a string, got number/));
        await assert.rejects(put('t', Buffer.from('x')), names('INVALID_PAYLOAD', /payload must be a string, got a Buffer \(decode it to text first, or send binary values with a Producer/));
        await assert.rejects(put('t', new Uint8Array(1)), names('INVALID_PAYLOAD', /got a Uint8Array/));
        await assert.rejects(put('t'), names('INVALID_PAYLOAD', /payload must be a string, got undefined/));
        await assert.rejects(put('t', null), names('INVALID_PAYLOAD', /got null/));
        sentNothing(client, node.address);
      } finally {
        await client.close();
      }
    });

    test('claim and unclaim check owner and ttlMs before sending (a stock node included, where claim resolves false)', async () => {
      const client = new WalrusClient({ nodes: [node.address] });
      const claim = client.claim.bind(client) as (name: string, owner: unknown, ttlMs: unknown) => Promise<boolean>;
      const unclaim = client.unclaim.bind(client) as (name: string, owner: unknown) => Promise<void>;
      try {
        await assert.rejects(claim('t', undefined, 1_000), names('INVALID_ARGUMENT', /^claim\(t\): owner must be a string of 1-200 characters .*got undefined/));
        await assert.rejects(claim('t', 'two words', 1_000), names('INVALID_ARGUMENT', /owner .*got "two words"/));
        await assert.rejects(claim('t', '', 1_000), names('INVALID_ARGUMENT', /owner .*got ""/));
        await assert.rejects(claim('t', 'x'.repeat(201), 1_000), names('INVALID_ARGUMENT', /owner/));
        await assert.rejects(claim('t', 'me', undefined), names('INVALID_ARGUMENT', /^claim\(t\): ttlMs must be an integer number of milliseconds from 100 to 600000, got undefined/));
        for (const ttl of [99, 600_001, 1.5, Number.NaN, '1000']) await assert.rejects(claim('t', 'me', ttl), names('INVALID_ARGUMENT', /ttlMs/), String(ttl));
        await assert.rejects(unclaim('t', 5), names('INVALID_ARGUMENT', /^unclaim\(t\): owner .*got 5/));
        sentNothing(client, node.address);
        // Valid ones still go through.
        assert.equal(await claim('t', 'me/1:a_b.c-d', 100), compat === 'default');
        await unclaim('t', 'me/1:a_b.c-d');
      } finally {
        await client.close();
      }
    });

    test('producer.send with a non-string id, or options that are not an object, is INVALID_ARGUMENT naming it; the producer keeps working', async () => {
      const client = new WalrusClient({ nodes: [node.address] });
      const producer = new Producer<number>(client, { topic: 'ids' });
      try {
        const send = producer.send.bind(producer) as (value: number, options: Record<string, unknown>) => Promise<void>;
        await assert.rejects(send(1, { id: 5 }), names('INVALID_ARGUMENT', /^Producer for topic ids: a record id must be a string, got number/));
        await assert.rejects(send(1, { id: {} }), names('INVALID_ARGUMENT', /record id must be a string, got object/));
        await assert.rejects(send(1, { key: 7 }), names('INVALID_ARGUMENT', /record key must be a string, got number/));
        // Options that are not an object: a bare TypeError before (a partitioned producer threw it synchronously), or silently ignored.
        const partitioned = new Producer<number>(client, { topic: 'ids-p', partitions: 3 });
        for (const target of [producer, partitioned]) {
          const sendTo = target.send.bind(target) as (value: number, options: unknown) => Promise<void>;
          for (const [label, bad] of [['null', null], ['number', 5], ['string', 'k1']] as const) {
            let outcome: Promise<void> | undefined;
            assert.doesNotThrow(() => { outcome = sendTo(1, bad); }, `${target.topic} with ${label}: a rejection, never a synchronous throw`);
            await assert.rejects(outcome!, names('INVALID_ARGUMENT', new RegExp(`^Producer for topic ${target.topic}: send options must be an object .*got ${label}; the record was not sent`)));
          }
        }
        await partitioned.close();
        await producer.send(2, { id: 'mine' });
        await producer.flush();
        assert.equal(producer.stats.records, 1);
      } finally {
        await producer.close();
        await client.close();
      }
    });
  });
}

test('against a stalled node, timeoutMs NaN/Infinity/"abc" fails at once instead of waiting forever', async () => {
  const peer = await startTcpPeer(); // accepts connections, never answers
  const client = new WalrusClient({ nodes: [peer.address], requestTimeoutMs: 500, retry: { retries: 0 } });
  try {
    for (const timeoutMs of ['abc', Number.NaN, Number.POSITIVE_INFINITY]) {
      const put = client.put('t', 'x', { timeoutMs: timeoutMs as number }).then(() => 'resolved', (error: unknown) => error);
      const outcome = await Promise.race([put, delay(2_000, 'still pending after 2 s')]);
      names('INVALID_ARGUMENT', /options\.timeoutMs/)(outcome);
    }
  } finally {
    await peer.close(); // first: fails whatever a broken check left waiting on it
    await client.close();
  }
});

test('Connection.send with timeoutMs 0 or -1 fails that request alone: the connection and its other requests live on', { timeout: 10_000 }, async () => {
  const node = await startTestBroker();
  try {
    const connection = await Connection.connect({ host: '127.0.0.1', port: node.port, connectTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    const other = connection.send(encodeMetrics(), parseMetrics, { command: 'METRICS' });
    for (const timeoutMs of [0, -1]) {
      await assert.rejects(connection.send(encodeMetrics(), parseMetrics, { command: 'METRICS', timeoutMs }), names('INVALID_ARGUMENT', /^METRICS to node .*options\.timeoutMs .*Nothing was sent/));
    }
    assert.ok((await other).id !== undefined);
    assert.equal(connection.isOpen, true);
    await connection.close();
  } finally {
    await node.close();
  }
});
