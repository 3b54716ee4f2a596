// run-tests: own process: asserts that no process warning is emitted while its calls run
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after, before, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WalrusClient } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { sleep } from '../../src/util/sleep.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

// One AbortSignal shared by many concurrent calls (an application's shutdown
// signal) must not make Node warn about a listener leak, must still abort
// every call, and must carry no listener once the calls are done.

let node: TestBroker;
before(async () => {
  node = await startTestBroker();
});
after(async () => {
  await node.close();
});

/** Runs `fn` and returns the process warnings emitted meanwhile. */
async function warningsDuring(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (warning: Error): void => {
    seen.push(`${warning.name}: ${warning.message}`);
  };
  process.on('warning', onWarning);
  try {
    await fn();
    await nextTurn(); // warnings are emitted on a later tick
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

test('50 concurrent puts sharing one AbortSignal: no MaxListenersExceededWarning, no listener left', async () => {
  const client = new WalrusClient({ nodes: [node.address] });
  try {
    await client.register('shared');
    const shutdown = new AbortController();
    const warnings = await warningsDuring(async () => {
      await Promise.all(Array.from({ length: 50 }, (_, i) => client.put('shared', `v${i}`, { signal: shutdown.signal })));
    });
    assert.deepEqual(warnings, []);
    assert.equal(getEventListeners(shutdown.signal, 'abort').length, 0);
  } finally {
    await client.close();
  }
});

test('callers waiting for a pool slot on one signal: no warning, and one abort rejects them all', async () => {
  const proxy = await FaultProxy.start(node);
  const client = new WalrusClient({ nodes: [proxy.address], retry: { retries: 0 }, pool: { min: 1, max: 1, maxPipeline: 1, acquireTimeoutMs: 10_000 } });
  const shutdown = new AbortController();
  let calls: Array<Promise<unknown>> = [];
  try {
    await client.metrics();
    proxy.setMode({ kind: 'blackhole' });
    const warnings = await warningsDuring(async () => {
      // One request on the connection, 19 callers waiting in the pool.
      calls = Array.from({ length: 20 }, () => client.metrics(undefined, { signal: shutdown.signal }));
      await nextTurn();
    });
    assert.deepEqual(warnings, []);
    assert.equal(client.stats().nodes[proxy.address]!.pool.pending, 19);
    shutdown.abort(new Error('shutting down'));
    const results = await Promise.allSettled(calls);
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof WalrusError && r.reason.code === 'ABORTED'), JSON.stringify(results.map((r) => r.status === 'rejected' ? (r.reason as WalrusError).code : r.status)));
    assert.equal(getEventListeners(shutdown.signal, 'abort').length, 0);
  } finally {
    shutdown.abort();
    proxy.resetAll();
    await Promise.allSettled(calls);
    await client.close();
    await proxy.close();
  }
});

test('a pool wait that times out stops listening to its signal', async () => {
  const proxy = await FaultProxy.start(node);
  const client = new WalrusClient({ nodes: [proxy.address], requestTimeoutMs: 5_000, retry: { retries: 0 }, pool: { min: 1, max: 1, maxPipeline: 1, acquireTimeoutMs: 50 } });
  let stuck: Promise<unknown> = Promise.resolve();
  try {
    await client.metrics();
    proxy.setMode({ kind: 'blackhole' });
    const signal = new AbortController().signal;
    stuck = client.metrics().catch(() => undefined);
    await assert.rejects(client.metrics(undefined, { signal }), (e: unknown) => (e as WalrusError).code === 'POOL_TIMEOUT');
    assert.equal(getEventListeners(signal, 'abort').length, 0);
  } finally {
    proxy.resetAll();
    await stuck;
    await client.close();
    await proxy.close();
  }
});

test('retry waits sharing one signal: no warning, one abort ends them all', async () => {
  const shutdown = new AbortController();
  let waits: Array<Promise<void>> = [];
  const warnings = await warningsDuring(async () => {
    waits = Array.from({ length: 20 }, () => sleep(10_000, { signal: shutdown.signal }));
  });
  assert.deepEqual(warnings, []);
  shutdown.abort();
  const results = await Promise.allSettled(waits);
  assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as WalrusError).code === 'ABORTED'));
  assert.equal(getEventListeners(shutdown.signal, 'abort').length, 0);
});
