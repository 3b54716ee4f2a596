import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentSet } from '../../src/util/recent-set.js';

test('RecentSet keeps its max most recent values: the oldest goes first, re-adding one does not refresh or duplicate it', () => {
  const ids = new RecentSet<number>(3);
  for (const id of [1, 2, 3]) ids.add(id);
  ids.add(2);
  assert.deepEqual([...ids], [1, 2, 3]);
  ids.add(4);
  assert.deepEqual([...ids], [2, 3, 4], 'the oldest (1) is dropped');
  assert.equal(ids.has(1), false);
  for (let id = 5; id < 10_000; id++) ids.add(id);
  assert.equal(ids.size, 3, 'bounded, however many are added');
  assert.deepEqual([...ids], [9_997, 9_998, 9_999]);
});
