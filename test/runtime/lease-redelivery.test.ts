import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedeliveryFilter } from '../../src/runtime/sources/lease-redelivery.js';

const b = (s: string) => Buffer.from(s);
const texts = (list: Buffer[]) => list.map(String);

test('leading redelivered copies of recovered entries are dropped, as a multiset', () => {
  const filter = new RedeliveryFilter();
  for (const e of ['a', 'b', 'a']) filter.add('orders', b(e));
  const first = filter.filter('orders', [b('a'), b('b')]);
  assert.deepEqual(texts(first.entries), []);
  assert.equal(first.dropped, 2);
  // one 'a' is still owed: the next fetch's leading 'a' is the redelivered copy, 'c' is new
  const second = filter.filter('orders', [b('a'), b('c'), b('a')]);
  assert.deepEqual(texts(second.entries), ['c', 'a']);
  assert.equal(second.dropped, 1);
});

test('matching stops for good at the first entry that matches nothing', () => {
  const filter = new RedeliveryFilter();
  filter.add('orders', b('x'));
  filter.add('orders', b('y'));
  const first = filter.filter('orders', [b('new'), b('x')]);
  assert.deepEqual(texts(first.entries), ['new', 'x']);
  assert.equal(first.dropped, 0);
  // redelivery is over: a later identical entry is new data, kept
  assert.deepEqual(texts(filter.filter('orders', [b('y')]).entries), ['y']);
});

test('sources are independent and an unknown source passes through untouched', () => {
  const filter = new RedeliveryFilter();
  filter.add('a', b('1'));
  const batch = [b('1')];
  assert.equal(filter.filter('b', batch).entries, batch);
  assert.deepEqual(filter.filter('a', [b('1'), b('2')]), { entries: [b('2')], dropped: 1 });
});
