import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WalrusError } from '../../src/errors/index.js';
import { packOutput } from '../../src/runtime/worker/result-encoding.js';
import { unpackValue } from '../../src/runtime/wire/batch-codec.js';

// What crosses to another thread is walked first (for Maps and `__proto__` keys, batch-codec.ts). That walk stopped
// each branch at depth 64 but went on with the others: a value referring to itself twice had it try 2^64 paths (a
// hung worker), and an array deeper than 64 levels was never checked (a sparse one was then packed hole by hole).

const refused = (pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof WalrusError, String(e));
  assert.equal(e.code, 'SERIALIZATION_ERROR');
  assert.equal(e.retriable, false);
  assert.match(e.message, /^processor "p" produced an output \(#1, "out"\) that cannot be passed to another thread: /);
  assert.match(e.message, pattern);
  return true;
};

test('an output that refers to itself twice is refused at once, not walked path by path', () => {
  const cyclic: Record<string, unknown> = { n: 1 };
  cyclic.a = cyclic;
  cyclic.b = cyclic;
  const started = performance.now();
  assert.throws(() => packOutput('p', 0, 'out', cyclic), refused(/call stack/));
  assert.ok(performance.now() - started < 2_000, `took ${Math.round(performance.now() - started)} ms`);
});

test('an array too long for any record is refused at any depth, also past the 64 levels of the walk', () => {
  const holes: unknown[] = [];
  holes.length = 2 ** 25 + 1;
  let deep: unknown = { holes };
  for (let i = 0; i < 100; i++) deep = i % 2 ? { deep } : [deep];
  const started = performance.now();
  assert.throws(() => packOutput('p', 0, 'out', deep), refused(/array of length 33554433, which encodes to at least 33554433 bytes, over the max entry size of 33554432 bytes/));
  assert.ok(performance.now() - started < 2_000, `took ${Math.round(performance.now() - started)} ms`);
  // A deep value without such an array still crosses, as it was.
  let fine: unknown = { leaf: new Map([['k', [1, 2]]]) };
  for (let i = 0; i < 100; i++) fine = { fine };
  assert.deepEqual(unpackValue(packOutput('p', 0, 'out', fine)), fine);
});
