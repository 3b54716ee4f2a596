import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { getEventListeners, once } from 'node:events';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Connection, WalrusClient } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { encodeFrame, encodeMetrics, parseMetrics } from '../../src/protocol/index.js';
import { spawnBrokerProcess } from '../helpers/broker.js';
import { startTcpPeer, type TcpPeer } from '../helpers/tcp-peer.js';

const EVICT_IDLE = fileURLToPath(new URL('./fixtures/evict-idle.ts', import.meta.url));

/**
 * A real TCP peer that answers every frame `OK` but never closes its side:
 * it ignores the client's FIN (half-open) until the test ends.
 */
async function finIgnoringPeer(): Promise<TcpPeer & { ended: () => number }> {
  let ended = 0;
  const peer = await startTcpPeer((socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32LE(0)) {
        pending = pending.subarray(4 + pending.readUInt32LE(0));
        socket.write(encodeFrame('OK'));
      }
    });
    socket.on('end', () => ended++); // and deliberately no socket.end()
  }, { allowHalfOpen: true });
  return { ...peer, ended: () => ended };
}

/** Resolves with how long `promise` took, or 'pending' after `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<number | 'pending'> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([promise.then(() => performance.now() - start), new Promise<'pending'>((resolve) => { timer = setTimeout(resolve, ms, 'pending'); })]);
  clearTimeout(timer);
  return outcome;
}

test('client.close() resolves within about requestTimeoutMs while the node is stopped (SIGSTOP), nothing in flight', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-close-'));
  const { child, address } = await spawnBrokerProcess(['--data-dir', dataDir]);
  try {
    const client = new WalrusClient({ nodes: [address], requestTimeoutMs: 500, connectTimeoutMs: 500 });
    await client.register('t');
    await client.put('t', 'x'); // one idle pooled connection
    child.kill('SIGSTOP');
    const took = await settlesWithin(client.close(), 5_000);
    if (took === 'pending') assert.fail('client.close() never resolved while the node was stopped');
    assert.ok(took >= 400 && took < 2_500, `closed after ${String(took)} ms`);
    const pool = client.stats().nodes[address]!.pool;
    assert.equal(pool.size, 0, JSON.stringify(pool));
  } finally {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('Connection.close() ends the socket, and destroys it after requestTimeoutMs when the peer ignores the FIN', async () => {
  const peer = await finIgnoringPeer();
  try {
    const connection = await Connection.connect({ host: '127.0.0.1', port: peer.port, connectTimeoutMs: 1_000, requestTimeoutMs: 300 });
    await connection.send(encodeMetrics(), () => undefined, { command: 'METRICS' });
    const took = await settlesWithin(connection.close(), 3_000);
    if (took === 'pending') assert.fail('close() never resolved against a peer that ignores FIN');
    assert.ok(took >= 250 && took < 1_500, `closed after ${String(took)} ms`);
    assert.equal(peer.ended(), 1, 'the client ended the socket gracefully first');
    assert.equal(connection.isOpen, false);
    assert.equal(connection.closedReason?.code, 'CONNECTION_CLOSED');
    assert.match(connection.closedReason!.message, /did not finish closing the connection within 300 ms/);
  } finally {
    await peer.close();
  }
});

test('an idle connection evicted by the pool does not keep the process alive when the peer ignores the FIN', async () => {
  const peer = await finIgnoringPeer();
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', EVICT_IDLE, peer.address], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += String(chunk); });
    const exited = once(child, 'exit');
    const took = await settlesWithin(exited, 15_000);
    if (took === 'pending') child.kill('SIGKILL');
    assert.equal(out, 'put\n');
    assert.notEqual(took, 'pending', 'the process stayed alive with an evicted, half-closed socket');
    assert.deepEqual((await exited).slice(0, 1), [0]);
    assert.equal(peer.ended(), 1, 'eviction ended the socket gracefully first');
  } finally {
    await peer.close();
  }
});

test('close() ends the calls waiting to retry at once with POOL_CLOSED, with or without a signal', async () => {
  // A port with nothing listening: every attempt is refused, then the call waits 5 s to retry.
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const client = new WalrusClient({ nodes: [`127.0.0.1:${port}`], retry: { retries: 3, initialDelayMs: 5_000, maxDelayMs: 5_000, jitter: 0 } });
  const shared = new AbortController();
  const calls = [client.put('t', 'x'), client.get('t', { signal: shared.signal })].map((call) => call.then(() => 'resolved', (error: unknown) => error));
  while (client.stats().retries < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  const closed = performance.now();
  await client.close();
  for (const call of calls) {
    // They went on sleeping through the 5 s backoff (keeping the process alive), then failed.
    const took = await settlesWithin(call, 3_000);
    if (took === 'pending') assert.fail('a call waiting to retry outlived close() by its backoff');
    const error = await call;
    assert.ok(error instanceof WalrusError && error.code === 'POOL_CLOSED', String(error));
    assert.match(error.message, /closed while .* waited to retry/);
  }
  assert.ok(performance.now() - closed < 1_000);
  assert.equal(getEventListeners(shared.signal, 'abort').length, 0, 'the shared signal is let go');
});
