import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fifo } from '../../src/util/fifo.js';

test('Fifo keeps order across growth and wrap-around', () => {
  const q = new Fifo<number>(2);
  const expected: number[] = [];
  let next = 0;
  // Interleave pushes and shifts so the head wraps while the ring grows.
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 3; i++) { q.push(next); expected.push(next); next++; }
    assert.equal(q.shift(), expected.shift());
    assert.equal(q.length, expected.length);
    assert.equal(q.peek(), expected[0]);
  }
  assert.deepEqual([...q], expected);
  assert.deepEqual(q.drain(), expected);
  assert.equal(q.length, 0);
  assert.equal(q.shift(), undefined);
  assert.equal(q.peek(), undefined);
});

test('Fifo.drain returns undefined items too (counted, not sentinel-terminated)', () => {
  const q = new Fifo<number | undefined>();
  q.push(1); q.push(undefined); q.push(3);
  assert.deepEqual(q.drain(), [1, undefined, 3]);
  assert.equal(q.length, 0);
});
