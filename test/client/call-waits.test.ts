import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WalrusClient, type WalrusClientOptions } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { tempDir, writeTestUsers } from '../helpers/auth.js';

/**
 * A call's AbortSignal and timeoutMs bound every wait of the call, not only
 * its own request: also the wait for a new connection (TCP + AUTH) and for
 * the capability probe its first batch call triggers. Before, against a
 * node that accepts connections but does not answer, both were bounded by
 * requestTimeoutMs alone (set to 10 minutes here): a call aborted at once
 * still waited for it, then failed with REQUEST_TIMEOUT instead of ABORTED.
 */

const PASSWORD = 'correct horse battery staple';
const FOREVER_MS = 600_000;

/** The call's outcome, or 'pending' if it has not settled within `graceMs` (far below requestTimeoutMs). */
async function outcome(call: Promise<unknown>, graceMs = 5_000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<string>((resolve) => { timer = setTimeout(resolve, graceMs, 'pending'); });
  const settled = call.then(() => 'resolved', (error: unknown) => error);
  const result = await Promise.race([settled, pending]);
  clearTimeout(timer);
  return result;
}

function assertGivenUp(result: unknown, code: 'ABORTED' | 'REQUEST_TIMEOUT', what: RegExp): void {
  assert.notEqual(result, 'pending', `the call was still waiting long after its ${code === 'ABORTED' ? 'signal aborted' : 'timeoutMs'} (requestTimeoutMs is ${FOREVER_MS} ms)`);
  assert.ok(result instanceof WalrusError, String(result));
  assert.equal(result.code, code, result.message);
  assert.equal(result.context.requestSent, false, 'the call itself was never sent');
  if (code === 'REQUEST_TIMEOUT') {
    assert.equal(result.context.givenUp, true);
    assert.match(result.message, what);
  }
}

async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('a call bounds its waits for a connection and for the capability probe by its signal and timeoutMs', () => {
  let node: TestBroker;
  let authNode: TestBroker;
  let removeDir: () => Promise<void>;
  const proxies: FaultProxy[] = [];
  const clients: WalrusClient[] = [];

  async function setup(target: TestBroker, options: Partial<WalrusClientOptions> = {}): Promise<{ proxy: FaultProxy; client: WalrusClient }> {
    const proxy = await FaultProxy.start(target);
    proxies.push(proxy);
    const client = new WalrusClient({ nodes: [proxy.address], requestTimeoutMs: FOREVER_MS, retry: { retries: 0 }, pool: { min: 0, max: 1 }, ...options });
    clients.push(client);
    return { proxy, client };
  }

  before(async () => {
    node = await startTestBroker();
    const dir = await tempDir();
    removeDir = dir.remove;
    authNode = await startTestBroker({ users: await writeTestUsers(dir.dir, { app: PASSWORD }) });
  });
  after(async () => {
    // Reset whatever still waits on a silent node, so close() does not wait for it.
    for (const proxy of proxies) proxy.setMode({ kind: 'drop' });
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(proxies.map((p) => p.close()));
    await node.close();
    await authNode.close();
    await removeDir();
  });

  test('an AbortSignal ends the wait for the capability probe (putMany, getMany, lease)', async () => {
    const { proxy, client } = await setup(node);
    await client.metrics(); // a connection is up
    proxy.setMode({ kind: 'blackhole' });
    const id = proxy.address;
    for (const call of [
      (signal: AbortSignal) => client.putMany('t', ['a', 'b'], { signal }),
      (signal: AbortSignal) => client.getMany('t', 10, 1000, { signal }),
      (signal: AbortSignal) => client.lease('t', 10, 1000, { signal }),
    ]) {
      const controller = new AbortController();
      const pending = call(controller.signal);
      await waitFor(() => (client.stats().nodes[id]!.requests.PROBE?.bytesOut ?? 0) > 0 || client.stats().nodes[id]!.outstanding > 0);
      controller.abort();
      assertGivenUp(await outcome(pending), 'ABORTED', /./);
    }
    assert.equal(client.capabilities().probed, false, 'the probe itself goes on');
  });

  test('timeoutMs ends the wait for the capability probe; the late probe result is kept and used', async () => {
    const { proxy, client } = await setup(node);
    await client.register('late');
    proxy.setMode({ kind: 'delay', ms: 500 }); // the probe's replies come, but a second later
    assertGivenUp(await outcome(client.getMany('late', 10, 1000, { timeoutMs: 100 })), 'REQUEST_TIMEOUT', /while it waited for the capability probe/);
    await client.putMany('late', ['x', 'y']);
    assert.deepEqual((await client.getMany('late', 10)).map(String), ['x', 'y']);
    assert.equal(client.capabilities().batchGet, true);
    assert.equal(client.stats().nodes[proxy.address]!.pool.active, 0, 'no lease left behind');
  });

  test('an AbortSignal ends the wait for a new connection to log in', async () => {
    const { proxy, client } = await setup(authNode, { auth: { username: 'app', password: PASSWORD } });
    proxy.setMode({ kind: 'blackhole' }); // TCP accepted, AUTH never answered
    const controller = new AbortController();
    const pending = client.put('t', 'x', { signal: controller.signal });
    await waitFor(() => proxy.connections > 0);
    controller.abort();
    assertGivenUp(await outcome(pending), 'ABORTED', /./);
  });

  test('timeoutMs ends the wait for a new connection to log in; the connection that arrives later is not leaked', async () => {
    const { proxy, client } = await setup(authNode, { auth: { username: 'app', password: PASSWORD }, pool: { min: 0, max: 1, maxPipeline: 1, acquireTimeoutMs: 2_000 } });
    await client.register('t');
    proxy.setMode({ kind: 'drop' });
    await waitFor(() => client.stats().nodes[proxy.address]!.pool.size === 0);
    proxy.setMode({ kind: 'delay', ms: 400 }); // the login of the next connection takes 400 ms per direction
    assertGivenUp(await outcome(client.put('t', 'early', { timeoutMs: 100 })), 'REQUEST_TIMEOUT', /while it waited for a connection/);
    proxy.setMode({ kind: 'pass' });
    // The only connection the pool may open (max 1, pipeline 1) must be free again for the next call.
    await client.put('t', 'after');
    assert.equal(String(await client.get('t')), 'after');
    const pool = client.stats().nodes[proxy.address]!.pool;
    assert.equal(pool.active, 0, JSON.stringify(pool));
    assert.equal(pool.size, 1, JSON.stringify(pool));
  });

  test('a connection whose login never finishes still counts against the node when every caller gave up first', async () => {
    const { proxy, client } = await setup(authNode, { auth: { username: 'app', password: PASSWORD }, requestTimeoutMs: 300, breaker: { failureThreshold: 1 } });
    proxy.setMode({ kind: 'blackhole' });
    assertGivenUp(await outcome(client.put('t', 'x', { timeoutMs: 50 })), 'REQUEST_TIMEOUT', /while it waited for a connection/);
    const id = proxy.address;
    await waitFor(() => client.stats().nodes[id]!.pool.failed === 1); // the AUTH timed out, after the caller left
    assert.equal(client.stats().nodes[id]!.breaker.opened, 1, 'the failed login opened the breaker');
  });

  test('calls that gave up waiting for a busy pool slot do not open the breaker of a node that answers', async () => {
    const { proxy, client } = await setup(node, {
      healthCheckTimeoutMs: 50,
      breaker: { failureThreshold: 2 },
      pool: { min: 1, max: 1, maxPipeline: 1, acquireTimeoutMs: FOREVER_MS },
    });
    await client.register('busy');
    proxy.setMode({ kind: 'delay', ms: 1_500 }); // the node answers, slowly
    const holder = client.metrics(); // holds the only slot
    // Longer than healthCheckTimeoutMs, but given up before anything was sent: says nothing about the node.
    for (let i = 0; i < 4; i++) assertGivenUp(await outcome(client.put('busy', `x${i}`, { timeoutMs: 100 })), 'REQUEST_TIMEOUT', /while it waited for a connection/);
    const breaker = client.stats().nodes[proxy.address]!.breaker;
    assert.equal(breaker.state, 'closed', JSON.stringify(breaker));
    assert.equal(breaker.opened, 0);
    await holder;
  });
});
