import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, realSleep } from '../../src/util/sleep.js';
import { WalrusError } from '../../src/errors/index.js';

test('sleep waits about the given time', async () => {
  const start = performance.now();
  await sleep(30);
  assert.ok(performance.now() - start >= 25);
});

test('sleep rejects with ABORTED on abort by default, before and during the wait', async () => {
  const before = new AbortController();
  before.abort(new Error('early'));
  await assert.rejects(realSleep(10_000, before.signal), (e: unknown) => e instanceof WalrusError && e.code === 'ABORTED');
  const during = new AbortController();
  const pending = sleep(10_000, { signal: during.signal });
  setTimeout(() => during.abort(), 5);
  await assert.rejects(pending, (e: unknown) => e instanceof WalrusError && e.code === 'ABORTED' && e.cause instanceof Error);
});

test("sleep with onAbort 'resolve' ends early without error", async () => {
  const ac = new AbortController();
  const start = performance.now();
  const pending = sleep(10_000, { signal: ac.signal, onAbort: 'resolve' });
  setTimeout(() => ac.abort(), 5);
  await pending;
  assert.ok(performance.now() - start < 5_000);
});

test('a sleep longer than the longest Node.js timer waits (in steps), with no TimeoutOverflowWarning, until aborted', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => { warnings.push(w.name); };
  process.on('warning', onWarning);
  try {
    const ac = new AbortController();
    let settled = false;
    const pending = sleep(2 ** 31 + 1_000, { signal: ac.signal, onAbort: 'resolve' }).then(() => { settled = true; });
    await sleep(150);
    assert.equal(settled, false, 'a ~24.9-day sleep is not over after 150 ms (an overflowing timer fires after 1 ms)');
    ac.abort();
    await pending;
    assert.equal(settled, true);
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
  }
});
