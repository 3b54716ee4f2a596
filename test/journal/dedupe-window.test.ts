import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DedupeWindow } from '../../src/journal/index.js';
import { WalrusError } from '../../src/errors/index.js';

test('seen() is false the first time and true for a repeat within the window', () => {
  const window = new DedupeWindow({ maxIds: 10 });
  assert.equal(window.seen('a'), false);
  assert.equal(window.seen('b'), false);
  assert.equal(window.seen('a'), true);
  assert.equal(window.duplicates, 1);
  assert.equal(window.size, 2);
});

test('the window is bounded by count: the oldest id is forgotten first', () => {
  const window = new DedupeWindow({ maxIds: 3 });
  for (const id of ['a', 'b', 'c', 'd']) assert.equal(window.seen(id), false);
  assert.equal(window.size, 3);
  assert.equal(window.seen('a'), false, "'a' was evicted, so it looks new again");
  assert.equal(window.seen('c'), true);
  assert.equal(window.seen('d'), true);
  assert.equal(window.seen('b'), false, "'b' went out when 'a' came back");
});

test('a repeat does not extend an id life: eviction stays first-seen order', () => {
  const window = new DedupeWindow({ maxIds: 2 });
  window.seen('a');
  window.seen('b');
  assert.equal(window.seen('a'), true);
  window.seen('c');
  assert.equal(window.seen('b'), true);
  assert.equal(window.seen('a'), false);
});

test('maxAgeMs forgets ids first seen longer ago, with an injected clock', () => {
  let now = 1_000;
  const window = new DedupeWindow({ maxIds: 100, maxAgeMs: 50, now: () => now });
  window.seen('old');
  now += 30;
  window.seen('young');
  now += 25;
  assert.equal(window.seen('old'), false, 'seen 55 ms ago: expired');
  assert.equal(window.seen('young'), true, 'seen 25 ms ago: still inside');
});

test('a million ids through a 10k window stay bounded and fast', () => {
  const window = new DedupeWindow({ maxIds: 10_000 });
  const started = performance.now();
  let duplicates = 0;
  for (let i = 0; i < 1_000_000; i += 1) {
    if (window.seen(`id-${i}`)) duplicates += 1;
    // Replays of the last 100 ids, like a crash recovering its in-flight window.
    if (i % 1000 === 999) for (let j = i - 99; j <= i; j += 1) if (window.seen(`id-${j}`)) duplicates += 1;
  }
  assert.equal(window.size, 10_000);
  assert.equal(duplicates, 1000 * 100);
  assert.ok(performance.now() - started < 5_000);
});

test('bad options are refused with a specific error', () => {
  assert.throws(() => new DedupeWindow({ maxIds: 0 }), (e: WalrusError) => e.code === 'CONFIG_INVALID' && /maxIds/.test(e.message));
  assert.throws(() => new DedupeWindow({ maxIds: 5, maxAgeMs: -1 }), (e: WalrusError) => e.code === 'CONFIG_INVALID' && /maxAgeMs/.test(e.message));
});
