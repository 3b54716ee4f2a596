import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CircuitBreaker, type BreakerState } from '../../src/client/index.js';
import { FIRST_OPENING_MS } from '../../src/client/cluster/breaker.js';
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
  clock.advance(100);
  assert.throws(() => breaker.admit(), (e: unknown) => e instanceof WalrusError && e.code === 'CIRCUIT_OPEN' && e.retriable && e.context.retryAfterMs === FIRST_OPENING_MS - 100 && /150 ms/.test(e.message));
  assert.equal(breaker.available, false);
  assert.equal(breaker.snapshot().rejected, 1);
});

test('half-open after the opening: admits halfOpenAttempts trials; that many successes close it', () => {
  const clock = fakeClock();
  const breaker = new CircuitBreaker('n:1', { ...settings, failureThreshold: 1 }, clock);
  breaker.admit();
  breaker.failure();
  clock.advance(FIRST_OPENING_MS - 1);
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

test('a failure in half-open reopens for twice as long; neutral outcomes free the trial slot', () => {
  const clock = fakeClock();
  const breaker = new CircuitBreaker('n:1', { ...settings, failureThreshold: 1, halfOpenAttempts: 1 }, clock);
  breaker.admit();
  breaker.failure();
  clock.advance(FIRST_OPENING_MS);
  breaker.admit();
  breaker.neutral();
  breaker.admit();
  breaker.failure();
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.retryAfterMs, 2 * FIRST_OPENING_MS);
  assert.equal(breaker.snapshot().opened, 2);
});

test('openings start short and double with each failed trial up to openDuration; closing starts over', () => {
  const clock = fakeClock();
  const breaker = new CircuitBreaker('n:1', { ...settings, failureThreshold: 2, halfOpenAttempts: 1 }, clock);
  const openFor = (): number => {
    const ms = breaker.retryAfterMs;
    clock.advance(ms);
    assert.equal(breaker.state, 'half-open');
    return ms;
  };
  breaker.failure();
  breaker.failure();
  const openings = [openFor()];
  // A dead node: every trial fails.
  for (let i = 0; i < 9; i++) {
    breaker.admit();
    breaker.failure();
    openings.push(openFor());
  }
  assert.deepEqual(openings, [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  // Back: the trial closes it, and the next outage is tried again after a short opening.
  breaker.admit();
  breaker.success();
  assert.equal(breaker.state, 'closed');
  breaker.failure();
  breaker.failure();
  assert.equal(breaker.retryAfterMs, FIRST_OPENING_MS);
  // openDuration below the first opening: every opening is openDuration.
  const short = new CircuitBreaker('n:2', { failureThreshold: 1, openDurationMs: 100, halfOpenAttempts: 1 }, clock);
  short.failure();
  assert.equal(short.retryAfterMs, 100);
});

test('failures reported while open do not extend it', () => {
  const clock = fakeClock();
  const breaker = new CircuitBreaker('n:1', { ...settings, failureThreshold: 1 }, clock);
  breaker.admit();
  breaker.failure();
  clock.advance(200);
  breaker.failure();
  assert.equal(breaker.retryAfterMs, FIRST_OPENING_MS - 200);
});
