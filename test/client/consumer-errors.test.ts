import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { WalrusClient } from '../../src/client/index.js';
import { Consumer } from '../../src/client/consumer/consumer.js';
import { WalrusError } from '../../src/errors/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

/**
 * A transient fetch error (the node unreachable) is thrown from the
 * iterator, which ends a `for await` loop without calling return(): the
 * consumer cannot tell whether its reader will come back. Before, its fetch
 * loop went on regardless, polling forever and taking entries off the
 * topic into a buffer nobody read: 10 entries put after the error were all
 * gone from the node, held by a consumer whose loop had ended. Now, after a
 * fetch error, it fetches again only once a reader asks for more.
 */

let node: TestBroker;
let proxy: FaultProxy;
let direct: WalrusClient;
let client: WalrusClient;

before(async () => {
  node = await startTestBroker();
  proxy = await FaultProxy.start(node);
  direct = new WalrusClient({ nodes: [node.address] });
  client = new WalrusClient({ nodes: [proxy.address], retry: { retries: 0 } });
});
after(async () => {
  await client.close();
  await direct.close();
  await proxy.close();
  await node.close();
});

/** A poll wait that returns at once (after a turn of the event loop), counting its calls. */
function countingSleep(): { sleep: (ms: number, signal: AbortSignal) => Promise<void>; calls: () => number } {
  let calls = 0;
  return { sleep: async () => { calls++; await tick(); }, calls: () => calls };
}

test('a for-await loop that ended on a transient fetch error: the consumer takes nothing more off the topic until read again, and loses nothing', async () => {
  await direct.register('after-error');
  const poll = countingSleep();
  const consumer = new Consumer<string>(client, { topic: 'after-error', serializer: 'string', sleep: poll.sleep, maxPollMs: 1 });
  proxy.setMode({ kind: 'drop' });
  let thrown: unknown;
  try {
    for await (const record of consumer) assert.fail(`no record expected, got ${String(record.value)}`);
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof WalrusError && thrown.retriable, String(thrown));
  const fetches = consumer.stats.fetches;
  const sleeps = poll.calls();
  proxy.setMode({ kind: 'pass' });
  for (let i = 0; i < 10; i++) await direct.put('after-error', `e${i}`);
  for (let i = 0; i < 50; i++) await tick();
  assert.equal(poll.calls(), sleeps, 'no poll scheduled while nobody reads');
  assert.equal(consumer.stats.fetches, fetches, 'no fetch while nobody reads');
  assert.equal((await direct.state('after-error')).lag, 10, 'every entry put after the error is still on the node');

  // Reading again picks up where it stopped.
  const next = await consumer.next();
  assert.equal(next.value?.value, 'e0');
  const left = await consumer.close();
  let onNode = 0;
  while ((await direct.get('after-error')) !== undefined) onNode++;
  assert.equal(1 + left.length + onNode, 10, 'none lost');
});

test('two loops over one consumer: the one that gets the fetch error stops, the other goes on reading once the node is back', { timeout: 30_000 }, async () => {
  await direct.register('two-loops');
  // The wait after the fetch error heals the node: the next fetch succeeds.
  const consumer = new Consumer<string>(client, { topic: 'two-loops', serializer: 'string', maxPollMs: 5, sleep: async () => { proxy.setMode({ kind: 'pass' }); await tick(); } });
  proxy.setMode({ kind: 'drop' });
  const read = async (): Promise<string[] | WalrusError> => {
    const seen: string[] = [];
    try {
      for await (const record of consumer) {
        seen.push(record.value);
        if (seen.length === 3) break;
      }
      return seen;
    } catch (error) {
      return error as WalrusError;
    }
  };
  const first = read();
  const second = read();
  const failed = await Promise.race([first, second]);
  assert.ok(failed instanceof WalrusError, String(failed));
  for (let i = 0; i < 3; i++) await direct.put('two-loops', `r${i}`);
  const results = await Promise.all([first, second]);
  const survivor = results.find((r) => Array.isArray(r));
  assert.deepEqual(survivor, ['r0', 'r1', 'r2'], 'the other loop was not left waiting');
  await consumer.close();
});
