import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CircuitBreaker, type BreakerState } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const settings = { failureThreshold: 5, openDurationMs: 30_000, halfOpenAttempts: 3 };

test('opens after failureThreshold consecutive failures and fails fast with retryAfterMs', () => {
  const clock = fakeClock();
  const changes: BreakerState[] = [];
  const breaker = new CircuitBreaker('n:1', settings, clock, (s) => changes.push(s));
  for (let i = 0; i < 4; i++) {
    breaker.admit();
    breaker.failure();
  }
  breaker.admit();
  breaker.success(); // a success resets the count
  for (let i = 0; i < 4; i++) {
    breaker.admit();
    breaker.failure();
  }
  assert.equal(breaker.state, 'closed');
  breaker.admit();
  breaker.failure();
  assert.equal(breaker.state, 'open');
  assert.deepEqual(changes, ['open']);
  clock.advance(10_000);
  assert.throws(() => breaker.admit(), (e: unknown) => e instanceof WalrusError && e.code === 'CIRCUIT_OPEN' && e.retriable && e.context.retryAfterMs === 20_000 && /20000 ms/.test(e.message));
  assert.equal(breaker.available, false);
  assert.equal(breaker.snapshot().rejected, 1);
});

test('half-open after openDuration: admits halfOpenAttempts trials; that many successes close it', () => {
  const clock = fakeClock();
  const breaker = new CircuitBreaker('n:1', { ...settings, failureThreshold: 1 }, clock);
  breaker.admit();
  breaker.failure();
  clock.advance(29_999);
  assert.equal(breaker.state, 'open');
  clock.advance(1);
  assert.equal(breaker.state, 'half-open');
  breaker.admit();
  breaker.admit();
  breaker.admit();
  assert.throws(() => breaker.admit(), (e: unknown) => (e as WalrusError).code === 'CIRCUIT_OPEN');
  breaker.success();
  breaker.success();
  assert.equal(breaker.state, 'half-open');
  breaker.success();
  assert.equal(breaker.state, 'closed');
  assert.equal(breaker.snapshot().closed, 1);
});

test('a failure in half-open reopens for a full openDuration; neutral outcomes free the trial slot', () => {
  const clock = fakeClock();
  const breaker = new CircuitBreaker('n:1', { ...settings, failureThreshold: 1, halfOpenAttempts: 1 }, clock);
  breaker.admit();
  breaker.failure();
  clock.advance(30_000);
  breaker.admit();
  breaker.neutral();
  breaker.admit();
  breaker.failure();
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.retryAfterMs, 30_000);
  assert.equal(breaker.snapshot().opened, 2);
});

test('failures reported while open do not extend it', () => {
  const clock = fakeClock();
  const breaker = new CircuitBreaker('n:1', { ...settings, failureThreshold: 1 }, clock);
  breaker.admit();
  breaker.failure();
  clock.advance(20_000);
  breaker.failure();
  assert.equal(breaker.retryAfterMs, 10_000);
});
