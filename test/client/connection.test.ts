import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { CLIENT_CHANNELS, Connection, WalrusClient, type RequestEvent } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { encodeFrame, encodeGet, encodeMetrics, encodeRegister, parseGet, parseMetrics, parseOk } from '../../src/protocol/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let node: TestBroker;
before(async () => {
  node = await startTestBroker();
});
after(async () => {
  await node.close();
});

/** A server that answers every frame with `reply(index)` — for replies a real node never sends. */
async function fakeNode(reply: (index: number) => Buffer | undefined): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let index = 0;
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32LE(0)) {
        pending = pending.subarray(4 + pending.readUInt32LE(0));
        const out = reply(index++);
        if (out) socket.write(out);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

const options = { host: '127.0.0.1', connectTimeoutMs: 1_000, requestTimeoutMs: 1_000 };

test('pipelined replies are matched in order on one connection', async () => {
  const connection = await Connection.connect({ ...options, port: node.port });
  await connection.send(encodeRegister('order'), parseOk, { command: 'REGISTER' });
  const puts = Array.from({ length: 200 }, (_, i) => connection.send(encodeFrame(`PUT order n${i}`), parseOk, { command: 'PUT' }));
  const gets = Array.from({ length: 200 }, () => connection.send(encodeGet('order'), parseGet, { command: 'GET' }));
  await Promise.all(puts);
  const got = (await Promise.all(gets)).map(String);
  assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => `n${i}`));
  assert.equal(connection.inFlight, 0);
  await connection.close();
  assert.equal(connection.isOpen, false);
});

test('a reply that does not fit retires the connection; the other in-flight requests fail retriably', async () => {
  const fake = await fakeNode((i) => (i === 0 ? encodeFrame('BANANA') : undefined));
  const connection = await Connection.connect({ ...options, port: fake.port });
  const first = connection.send(encodeRegister('x'), parseOk, { command: 'REGISTER' });
  const second = connection.send(encodeRegister('y'), parseOk, { command: 'REGISTER' });
  await assert.rejects(first, (e: unknown) => e instanceof WalrusError && e.code === 'PROTOCOL_ERROR' && /BANANA/.test(e.message));
  await assert.rejects(second, (e: unknown) => e instanceof WalrusError && e.retriable && e.context.requestSent === true);
  assert.equal(connection.isOpen, false);
  await assert.rejects(connection.send(encodeRegister('z'), parseOk, { command: 'REGISTER' }), (e: unknown) => (e as WalrusError).code === 'CONNECTION_CLOSED' && (e as WalrusError).context.requestSent === false);
  await fake.close();
});

test('a forbidden frame length from the peer is a PROTOCOL_ERROR, not a hang', async () => {
  const bad = Buffer.alloc(4);
  bad.writeUInt32LE(0);
  const fake = await fakeNode(() => bad);
  const connection = await Connection.connect({ ...options, port: fake.port });
  await assert.rejects(connection.send(encodeMetrics(), parseMetrics, { command: 'METRICS' }), (e: unknown) => (e as WalrusError).code === 'PROTOCOL_ERROR');
  await fake.close();
});

test('an aborted request keeps its slot: the next reply still goes to the right caller', async () => {
  const fake = await fakeNode((i) => encodeFrame(i === 0 ? 'OK first' : 'OK second'));
  const connection = await Connection.connect({ ...options, port: fake.port });
  const controller = new AbortController();
  const first = connection.send(encodeGet('t'), parseGet, { command: 'GET', signal: controller.signal });
  controller.abort();
  await assert.rejects(first, (e: unknown) => (e as WalrusError).code === 'ABORTED');
  const second = await connection.send(encodeGet('t'), parseGet, { command: 'GET' });
  assert.equal(String(second), 'second');
  assert.equal(connection.isOpen, true);
  await connection.close();
  await fake.close();
});

test('a per-request timeout shorter than the others still fires; the connection is retired only after requestTimeoutMs', async () => {
  const fake = await fakeNode(() => undefined);
  const connection = await Connection.connect({ ...options, requestTimeoutMs: 600, port: fake.port });
  const started = performance.now();
  let slowSettled = false;
  const slow = connection.send(encodeMetrics(), parseMetrics, { command: 'METRICS' }).finally(() => (slowSettled = true));
  const fast = connection.send(encodeMetrics(), parseMetrics, { command: 'METRICS', timeoutMs: 60 });
  await assert.rejects(fast, (e: unknown) => (e as WalrusError).code === 'REQUEST_TIMEOUT' && (e as WalrusError).context.givenUp === true);
  assert.ok(performance.now() - started < 500);
  // Given up on alone: the connection and the request beside it live on...
  assert.equal(connection.isOpen, true);
  assert.equal(slowSettled, false);
  // ...until the node stays silent for requestTimeoutMs.
  await assert.rejects(slow, (e: unknown) => (e as WalrusError).code === 'REQUEST_TIMEOUT' && /retired/.test((e as Error).message));
  assert.ok(performance.now() - started < 2_000);
  assert.equal(connection.isOpen, false);
  await fake.close();
});

test('request events are published on the diagnostics channel and counted in stats', async () => {
  const events: RequestEvent[] = [];
  const listener = (message: unknown): void => void events.push(message as RequestEvent);
  diagnostics.subscribe(CLIENT_CHANNELS.request, listener);
  const client = new WalrusClient({ nodes: [node.address] });
  try {
    await client.register('events');
    await client.put('events', 'hello');
    await client.put('missing-topic', 'x').catch(() => {});
  } finally {
    diagnostics.unsubscribe(CLIENT_CHANNELS.request, listener);
  }
  const put = events.find((e) => e.command === 'PUT' && e.outcome === 'ok')!;
  assert.equal(put.node, node.address);
  assert.ok(put.bytesOut > 10 && put.bytesIn === 6 && put.durationMs >= 0);
  assert.ok(events.some((e) => e.command === 'PUT' && e.errorCode === 'TOPIC_NOT_FOUND'));
  const stats = client.stats().nodes[node.address]!.requests.PUT!;
  assert.equal(stats.ok, 1);
  assert.deepEqual(stats.errors, { TOPIC_NOT_FOUND: 1 });
  assert.equal(stats.latency.count, 2);
  assert.equal(stats.latency.buckets.at(-1), 2);
  await client.close();
});
