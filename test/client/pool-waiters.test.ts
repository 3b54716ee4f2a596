import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WalrusClient } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

/**
 * Callers waiting for a pool slot (every connection at maxPipeline) that
 * give up — a shared AbortSignal fires, or acquireTimeoutMs passes — each
 * removed itself from the wait queue by copying the whole queue: O(n²).
 * 20,000 callers sharing one aborted signal blocked the event loop for 30 s
 * (5,000: 1 s). Now a waiter is marked and skipped: linear.
 *
 * Measured as a ratio, not an absolute time: 16× the waiters must cost well
 * under 256× (quadratic) the time; linear is about 16×. Best of three runs.
 */

let node: TestBroker;
let proxy: FaultProxy;
let client: WalrusClient;
const SMALL = 1_000;
const LARGE = 16_000;

before(async () => {
  node = await startTestBroker();
  proxy = await FaultProxy.start(node);
  client = new WalrusClient({ nodes: [proxy.address], requestTimeoutMs: 600_000, retry: { retries: 0 }, pool: { min: 1, max: 1, maxPipeline: 1, acquireTimeoutMs: 600_000 } });
});
after(async () => {
  proxy.setMode({ kind: 'drop' });
  await client.close();
  await proxy.close();
  await node.close();
});

/** Milliseconds from abort() until `count` waiting callers sharing the signal all settled. */
async function abortWaiters(count: number): Promise<number> {
  const controller = new AbortController();
  const calls = Array.from({ length: count }, () => client.get('t', { signal: controller.signal }).then(() => 'resolved', (error: unknown) => error));
  const pool = () => client.stats().nodes[proxy.address]!.pool;
  assert.equal(pool().pending, count, 'every call waits for the one slot');
  const started = performance.now();
  controller.abort();
  const outcomes = await Promise.all(calls);
  const took = performance.now() - started;
  assert.ok(outcomes.every((e) => e instanceof WalrusError && e.code === 'ABORTED'), 'every waiting call was aborted');
  assert.equal(pool().pending, 0, 'no waiter left behind');
  return took;
}

test('callers giving up their wait for a pool slot cost linear time, not quadratic', async () => {
  await client.metrics();
  proxy.setMode({ kind: 'blackhole' });
  const holder = client.get('t'); // takes the only slot and never gets its reply
  holder.catch(() => undefined);
  const best = async (count: number): Promise<number> => Math.min(await abortWaiters(count), await abortWaiters(count), await abortWaiters(count));
  await abortWaiters(SMALL); // warm-up
  const small = await best(SMALL);
  const large = await best(LARGE);
  const ratio = large / Math.max(small, 1);
  assert.ok(ratio < 40, `${LARGE} waiters took ${Math.round(large)} ms, ${SMALL} took ${Math.round(small)} ms: ${ratio.toFixed(1)}× for 16× the waiters (linear would be 16×, quadratic 256×)`);
});

test('a waiter that timed out or was aborted is skipped: the next caller in line gets the freed slot', async () => {
  proxy.setMode({ kind: 'pass' });
  const local = new WalrusClient({ nodes: [node.address], retry: { retries: 0 }, pool: { min: 1, max: 1, maxPipeline: 1, acquireTimeoutMs: 600_000 } });
  try {
    await local.register('order');
    await local.putMany('order', ['a', 'b']);
    const first = local.get('order');
    const controllers = Array.from({ length: 100 }, () => new AbortController());
    const gaveUp = controllers.map((c) => local.get('order', { signal: c.signal }).then(() => 'resolved', (e: unknown) => (e as WalrusError).code));
    const last = local.get('order');
    for (const c of controllers) c.abort();
    assert.deepEqual(new Set(await Promise.all(gaveUp)), new Set(['ABORTED']));
    assert.equal(String(await first), 'a');
    assert.equal(String(await last), 'b', 'the live waiter behind 100 aborted ones was served');
    assert.equal(local.stats().nodes[node.address]!.pool.pending, 0);
  } finally {
    await local.close();
  }
});
