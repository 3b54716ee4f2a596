import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../src/util/backoff.js';

test('backoffDelay: exponential with multiplier, capped, no jitter by default', () => {
  const b = { initialDelayMs: 100, maxDelayMs: 5_000, multiplier: 2 };
  assert.deepEqual([1, 2, 3, 4, 7, 8].map((n) => backoffDelay(b, n, 0.7)), [100, 200, 400, 800, 5_000, 5_000]);
  assert.equal(backoffDelay({ ...b, multiplier: 3 }, 3, 0), 900);
  // attempt 0 counts as the first retry
  assert.equal(backoffDelay(b, 0, 0), 100);
});

test('backoffDelay: linear and fixed shapes', () => {
  assert.deepEqual([1, 2, 3, 40].map((n) => backoffDelay({ shape: 'linear', initialDelayMs: 200, maxDelayMs: 5_000 }, n)), [200, 400, 600, 5_000]);
  assert.deepEqual([1, 5].map((n) => backoffDelay({ shape: 'fixed', initialDelayMs: 50, maxDelayMs: 500 }, n)), [50, 50]);
});

test('backoffDelay: jitter share runs from (1 - jitter) × delay at random 0 up to the full delay', () => {
  const b = { initialDelayMs: 100, maxDelayMs: 500, jitter: 0.5 };
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(b, n, 0)), [50, 100, 200, 250, 250]);
  assert.deepEqual([1, 2, 3].map((n) => backoffDelay(b, n, 0.999_999)), [100, 200, 400]);
  assert.equal(backoffDelay({ ...b, jitter: 1 }, 2, 0), 0);
});
