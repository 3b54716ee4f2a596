import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthLimiter, keyOf } from '../../src/observability/http/auth-limiter.js';

test('the limiter forgets the least recently seen addresses: a flood of addresses cannot grow it', () => {
  let now = 0;
  const limiter = new AuthLimiter({ maxFailures: 2, maxAddresses: 100, now: () => now });
  limiter.failed('10.0.0.1');
  assert.equal(limiter.failed('10.0.0.1')?.retryAfterSeconds, 60);
  for (let i = 0; i < 10_000; i++) { now += 1; limiter.failed(`192.168.${i >> 8}.${i & 255}`); }
  assert.equal(limiter.size, 100);
  assert.equal(limiter.lockout('10.0.0.1'), undefined, 'the oldest entry was evicted');
  // IPv6 counts per /64: a host cannot get a fresh budget per address of its prefix; IPv4-mapped counts as IPv4.
  limiter.failed('2001:db8:1:2::1');
  assert.ok(limiter.failed('2001:db8:1:2:ffff::9'), 'two failures within one /64 lock it out');
  assert.equal(limiter.lockout('2001:db8:1:3::1'), undefined, 'another /64 is not');
  limiter.failed('::ffff:10.9.9.9');
  assert.ok(limiter.failed('10.9.9.9'));
});

test('failures count within the window; a lockout is per address and ends', () => {
  let now = 0;
  const limiter = new AuthLimiter({ maxFailures: 3, windowMs: 1_000, lockoutMs: 500, maxLockoutMs: 1_500, now: () => now });
  limiter.failed('a');
  limiter.failed('a');
  now += 1_000;
  assert.equal(limiter.failed('a'), undefined, 'the window passed: the count started again');
  assert.equal(limiter.failed('a'), undefined);
  assert.equal(limiter.failed('a')?.retryAfterSeconds, 1);
  assert.equal(limiter.lockout('b'), undefined);
  now += 500;
  assert.equal(limiter.lockout('a'), undefined, 'the lockout ended');
  for (let i = 0; i < 3; i++) limiter.failed('a');
  now += 999;
  assert.ok(limiter.lockout('a'), 'the second lockout lasts twice as long');
  now += 1;
  assert.equal(limiter.lockout('a'), undefined);
  limiter.succeeded('a');
  assert.equal(limiter.size, 0);
});

test('addresses are keyed per IPv4 address and per IPv6 /64', () => {
  assert.equal(keyOf('10.1.2.3'), '10.1.2.3');
  assert.equal(keyOf('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(keyOf('2001:0db8:0001:0002:0003:0004:0005:0006'), '2001:db8:1:2::/64');
  assert.equal(keyOf('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(keyOf('::1'), '0:0:0:0::/64');
  assert.equal(keyOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(keyOf('64:ff9b:1::1.2.3.4'), '64:ff9b:1:0::/64');
  assert.equal(keyOf(undefined), '?');
});
