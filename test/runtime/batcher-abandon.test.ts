import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WalrusClient } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { Batcher } from '../../src/runtime/sinks/batcher.js';
import { sleep } from '../../src/util/sleep.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

// A run that fails (a stateful output that cannot be written, a worker crash
// loop) closes its client: the sink batchers must stop at once, failing what
// waits instead of sending it on the closing client ("client is closed", write
// after write), and leave every entry for the next start.

let node: TestBroker;
let client: WalrusClient;
before(async () => {
  node = await startTestBroker();
  client = new WalrusClient({ nodes: [node.address] });
  await client.register('abandon.out');
});
after(async () => {
  await client.close();
  await node.close();
});

/** Collects each item's ack: 'ok' or the error's message. */
function acks(): { results: string[]; ack: (error?: unknown) => void } {
  const results: string[] = [];
  return { results, ack: (error) => results.push(error === undefined ? 'ok' : (error as Error).message) };
}

test('abandon(): items waiting for their linger are failed unsent, and later pushes fail at once', async () => {
  let writes = 0;
  const batcher = new Batcher<string>({ lingerMs: 50, flush: async (items) => { writes++; await client.putMany('abandon.out', items); } });
  const { results, ack } = acks();
  batcher.push('a', ack);
  batcher.push('b', ack);
  batcher.abandon(new Error('run failed'));
  batcher.push('c', ack);
  await sleep(120); // past the linger: the timer was cleared
  await batcher.flush();
  assert.deepEqual(results, ['run failed', 'run failed', 'run failed']);
  assert.equal(writes, 0, 'nothing was sent');
  assert.equal(batcher.pendingWeight, 0);
  assert.deepEqual(await client.getMany('abandon.out', 10), [], 'the topic holds nothing');
});

test('abandon() during a write that fails retriably: it is not attempted again, its items fail with the abandon error', async () => {
  let attempts = 0;
  const batcher = new Batcher<string>({
    lingerMs: 0,
    retryDelayMs: 30,
    flush: async () => { attempts++; throw new WalrusError('CONNECTION_CLOSED', 'the node went away'); },
  });
  const { results, ack } = acks();
  batcher.push('x', ack);
  while (attempts === 0) await sleep(5);
  batcher.abandon(new Error('run failed'));
  await batcher.flush();
  await sleep(100); // several retry delays
  assert.equal(attempts, 1, 'no attempt after abandon()');
  assert.deepEqual(results, ['run failed']);
});

test('without abandon(), the same retriable failure is retried until it succeeds (the behaviour abandon() cuts short)', async () => {
  let attempts = 0;
  const batcher = new Batcher<string>({
    lingerMs: 0,
    retryDelayMs: 10,
    flush: async (items) => {
      if (++attempts < 3) throw new WalrusError('CONNECTION_CLOSED', 'the node went away');
      await client.putMany('abandon.out', items);
    },
  });
  const { results, ack } = acks();
  batcher.push('y', ack);
  await batcher.flush();
  assert.equal(attempts, 3);
  assert.deepEqual(results, ['ok']);
  assert.deepEqual((await client.getMany('abandon.out', 10)).map(String), ['y']);
});
