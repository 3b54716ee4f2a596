import assert from 'node:assert/strict';
import { test } from 'node:test';
import net from 'node:net';
import { RetryPolicy, WalrusClient } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';

const defaults = { retries: 3, initialDelayMs: 100, maxDelayMs: 5_000, multiplier: 2, jitter: 0.5 };

function recordingSleep(): { sleeps: number[]; sleep: (ms: number) => Promise<void> } {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms) => void sleeps.push(ms) };
}

test('delays grow exponentially up to maxDelay; jitter takes at most its fraction off', () => {
  const none = new RetryPolicy({ ...defaults, jitter: 0.5 }, { random: () => 0 });
  assert.deepEqual([1, 2, 3, 4, 7, 8].map((n) => none.delayFor(n)), [100, 200, 400, 800, 5_000, 5_000]);
  const most = new RetryPolicy({ ...defaults, jitter: 0.5 }, { random: () => 0.999_999 });
  assert.deepEqual([1, 2, 3].map((n) => most.delayFor(n)), [50, 100, 200]);
  const zero = new RetryPolicy({ ...defaults, jitter: 0 }, { random: () => 0.7 });
  assert.equal(zero.delayFor(3), 400);
});

test('retries retriable errors up to `retries` times, then throws the last error with attempts', async () => {
  const { sleeps, sleep } = recordingSleep();
  const policy = new RetryPolicy({ ...defaults, jitter: 0 }, { sleep });
  let calls = 0;
  await assert.rejects(
    policy.execute(async () => {
      calls++;
      throw new WalrusError('CONNECTION_CLOSED', `failure ${calls}`);
    }),
    (e: unknown) => e instanceof WalrusError && e.message === 'failure 4' && e.context.attempts === 4,
  );
  assert.equal(calls, 4);
  assert.deepEqual(sleeps, [100, 200, 400]);
});

test('succeeds on a later attempt and reports each retry', async () => {
  const { sleep } = recordingSleep();
  const policy = new RetryPolicy(defaults, { sleep, random: () => 0 });
  const events: number[] = [];
  const value = await policy.execute(async (attempt) => {
    if (attempt < 2) throw new WalrusError('NETWORK_ERROR', 'flaky');
    return attempt;
  }, { onRetry: (e) => events.push(e.attempt) });
  assert.equal(value, 2);
  assert.deepEqual(events, [1, 2]);
});

test('non-retriable errors and plain errors are not retried', async () => {
  const { sleeps, sleep } = recordingSleep();
  const policy = new RetryPolicy(defaults, { sleep });
  let calls = 0;
  await assert.rejects(policy.execute(async () => {
    calls++;
    throw new WalrusError('TOPIC_NOT_FOUND', 'no');
  }));
  await assert.rejects(policy.execute(async () => {
    calls++;
    throw new Error('plain');
  }));
  assert.equal(calls, 2);
  assert.deepEqual(sleeps, []);
});

test('retryIf narrows the policy; it cannot widen it to non-retriable errors', async () => {
  const { sleep } = recordingSleep();
  const seen: Array<[string, number]> = [];
  const policy = new RetryPolicy({ ...defaults, retryIf: (error, attempt) => {
    seen.push([(error as WalrusError).code, attempt]);
    return (error as WalrusError).code !== 'REQUEST_TIMEOUT';
  } }, { sleep });
  let calls = 0;
  await assert.rejects(policy.execute(async () => {
    calls++;
    throw new WalrusError(calls === 1 ? 'NETWORK_ERROR' : 'REQUEST_TIMEOUT', 'x');
  }), (e: unknown) => (e as WalrusError).code === 'REQUEST_TIMEOUT');
  assert.equal(calls, 2);
  assert.deepEqual(seen, [['NETWORK_ERROR', 1], ['REQUEST_TIMEOUT', 2]]);
  const always = new RetryPolicy({ ...defaults, retryIf: () => true }, { sleep });
  let n = 0;
  await assert.rejects(always.execute(async () => {
    n++;
    throw new WalrusError('INVALID_PAYLOAD', 'x');
  }));
  assert.equal(n, 1);
});

test('a breaker hint beyond maxDelay fails fast; a shorter one is waited for', async () => {
  const { sleeps, sleep } = recordingSleep();
  const policy = new RetryPolicy({ ...defaults, jitter: 0 }, { sleep });
  let calls = 0;
  await assert.rejects(policy.execute(async () => {
    calls++;
    throw new WalrusError('CIRCUIT_OPEN', 'open', { context: { retryAfterMs: 30_000 } });
  }), (e: unknown) => (e as WalrusError).code === 'CIRCUIT_OPEN');
  assert.equal(calls, 1);
  assert.deepEqual(sleeps, []);
  let k = 0;
  await policy.execute(async () => {
    if (k++ === 0) throw new WalrusError('CIRCUIT_OPEN', 'open', { context: { retryAfterMs: 1_500 } });
  });
  assert.deepEqual(sleeps, [1_500]);
});

test('an aborted signal stops retrying', async () => {
  const controller = new AbortController();
  const policy = new RetryPolicy(defaults, { sleep: async () => controller.abort() });
  let calls = 0;
  await assert.rejects(policy.execute(async () => {
    calls++;
    throw new WalrusError('NETWORK_ERROR', 'x');
  }, { signal: controller.signal }));
  assert.equal(calls, 2);
});

test('a retryIf that throws fails the call with CONFIG_INVALID naming retry.retryIf, and keeps the error it was judging', async () => {
  // A real socket refusing: nothing listens on this port any more.
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const client = new WalrusClient({ nodes: [`127.0.0.1:${port}`], retry: { retryIf: () => { throw new Error('predicate bug'); } } });
  try {
    // Before: the call rejected with the predicate's bare Error, the refusal it was judging lost.
    await assert.rejects(client.put('t', 'x'), (e: unknown) => {
      assert.ok(e instanceof WalrusError, String(e));
      assert.equal(e.code, 'CONFIG_INVALID');
      assert.match(e.message, /^retry\.retryIf threw "predicate bug" while judging CONNECTION_REFUSED \(attempt 1\) of PUT; the call was not retried and failed with that error: Could not connect/);
      assert.equal((e.cause as WalrusError).code, 'CONNECTION_REFUSED');
      return true;
    });
  } finally {
    await client.close();
  }
});
