import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WalrusClient } from '../../src/client/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

/**
 * register() is sent to every node and is documented to resolve once one
 * node confirmed. It waited for every node instead: with one node of two
 * accepting connections but not answering, register() — and so a
 * Producer's first write, and each topic a pipeline registers at start —
 * took the silent node's whole retry budget, (retries + 1) ×
 * requestTimeoutMs: about 40 s by default (10 minutes here). Now, once one
 * node confirmed, the others get healthCheckTimeoutMs more to answer (a
 * responsive node is still registered before it resolves) and the rest goes
 * on in the background.
 */

const FOREVER_MS = 600_000;
let live: TestBroker;
let other: TestBroker;
let proxy: FaultProxy;
let client: WalrusClient;

async function outcome(call: Promise<unknown>, graceMs = 10_000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<string>((resolve) => { timer = setTimeout(resolve, graceMs, 'pending'); });
  const result = await Promise.race([call.then(() => 'resolved', (error: unknown) => error), pending]);
  clearTimeout(timer);
  return result;
}

before(async () => {
  live = await startTestBroker();
  other = await startTestBroker();
  proxy = await FaultProxy.start(other);
  client = new WalrusClient({ nodes: [live.address, proxy.address], requestTimeoutMs: FOREVER_MS, healthCheckTimeoutMs: 300 });
});
after(async () => {
  proxy.setMode({ kind: 'drop' });
  await client.close();
  await proxy.close();
  await live.close();
  await other.close();
});

test('register() with every node answering: each has the topic when it resolves', async () => {
  await client.register('both');
  for (const address of [live.address, other.address]) {
    const direct = new WalrusClient({ nodes: [address] });
    try {
      assert.equal((await direct.state('both')).topic, 'both', `${address} has the topic`);
    } finally {
      await direct.close();
    }
  }
});

test('register() resolves once a node confirmed, while another accepts connections but never answers', async () => {
  proxy.setMode({ kind: 'blackhole' });
  const result = await outcome(client.register('one-silent'));
  assert.equal(result, 'resolved', `register() was still waiting for the silent node (requestTimeoutMs ${FOREVER_MS} ms)`);
  const direct = new WalrusClient({ nodes: [live.address] });
  try {
    assert.equal((await direct.state('one-silent')).topic, 'one-silent');
  } finally {
    await direct.close();
  }
});
