import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WalrusClient, type WalrusClientOptions } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

/**
 * client.close() while a connection is still being opened: the TCP connect,
 * the TLS handshake or the AUTH login of a node that accepted the socket
 * and then went silent. Before, close() resolved at once and left that
 * socket open (and its call waiting) until connectTimeoutMs or
 * requestTimeoutMs passed, keeping the process alive after close().
 */

const FOREVER_MS = 600_000;

async function outcome(call: Promise<unknown>, graceMs = 5_000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<string>((resolve) => { timer = setTimeout(resolve, graceMs, 'pending'); });
  const result = await Promise.race([call.then(() => 'resolved', (error: unknown) => error), pending]);
  clearTimeout(timer);
  return result;
}

async function waitFor(check: () => boolean, graceMs = 5_000): Promise<boolean> {
  const until = performance.now() + graceMs;
  while (!check()) {
    if (performance.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

describe('close() while a connection is still opening', () => {
  let node: TestBroker;
  const proxies: FaultProxy[] = [];

  before(async () => {
    node = await startTestBroker();
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await node.close();
  });

  for (const [name, options] of [
    ['its AUTH login', { auth: { username: 'app', password: 'pw' } }],
    ['its TLS handshake', { tls: true }],
  ] as Array<[string, Partial<WalrusClientOptions>]>) {
    test(`during ${name}: close() leaves no socket and no call behind`, async () => {
      const proxy = await FaultProxy.start(node);
      proxies.push(proxy);
      proxy.setMode({ kind: 'blackhole' }); // TCP accepted, then silence
      const client = new WalrusClient({ nodes: [proxy.address], requestTimeoutMs: FOREVER_MS, connectTimeoutMs: FOREVER_MS, ...options });
      const put = client.put('t', 'x');
      assert.ok(await waitFor(() => proxy.connections === 1), 'the connection reached the node');
      await client.close();
      const pool = client.stats().nodes[proxy.address]!.pool;
      assert.equal(pool.connecting, 0, `no connection still opening once close() resolved: ${JSON.stringify(pool)}`);
      const result = await outcome(put);
      assert.notEqual(result, 'pending', 'the call waiting for the connection outlived close()');
      assert.ok(result instanceof WalrusError && result.code === 'POOL_CLOSED', String(result));
      assert.ok(await waitFor(() => proxy.connections === 0), 'the socket was closed');
    });
  }
});
