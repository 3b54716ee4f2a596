// run-tests: own process: measures the process's heap
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LOST_ACK_WINDOW_MS, MAX_LOST_COPIES, RedeliveryFilter } from '../../src/runtime/sources/lease-redelivery.js';

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

test('a source read as several partition topics: matching stops per topic, so new entries leading one partition do not end another\'s redelivery', () => {
  const filter = new RedeliveryFilter();
  for (const e of ['a0', 'a1', 'c0', 'c1']) filter.add('orders', b(e));
  // Partition 0: its copies, then new entries; partition 2's copies are still owed.
  assert.deepEqual(filter.filter('orders', [b('a0'), b('a1'), b('new0')], 'orders.p0'), { entries: [b('new0')], dropped: 2 });
  assert.deepEqual(filter.filter('orders', [b('c0')], 'orders.p0'), { entries: [b('c0')], dropped: 0 }, 'redelivery is over in p0: an identical entry there is new data');
  assert.deepEqual(filter.filter('orders', [b('c0'), b('c1'), b('new2')], 'orders.p2'), { entries: [b('new2')], dropped: 2 });
  assert.deepEqual(filter.filter('orders', [b('c1')], 'orders.p2'), { entries: [b('c1')], dropped: 0 });
});

test('sources are independent and an unknown source passes through untouched', () => {
  const filter = new RedeliveryFilter();
  filter.add('a', b('1'));
  const batch = [b('1')];
  assert.equal(filter.filter('b', batch).entries, batch);
  assert.deepEqual(filter.filter('a', [b('1'), b('2')]), { entries: [b('2')], dropped: 1 });
});

test('entries of a lease whose ACK failed mid-run are dropped at the head of any later batch, until matched', () => {
  const filter = new RedeliveryFilter();
  filter.addLost('orders', [b('p'), b('q')]);
  // A fetch the node answered before it saw the connection close: new entries, kept; the lost ones stay watched.
  assert.deepEqual(filter.filter('orders', [b('n1'), b('p')]), { entries: [b('n1'), b('p')], dropped: 0 });
  assert.deepEqual(filter.filter('orders', [b('p'), b('q'), b('n2')]), { entries: [b('n2')], dropped: 2 });
  // matched once each: a later identical entry is new data
  assert.deepEqual(filter.filter('orders', [b('p')]), { entries: [b('p')], dropped: 0 });
});

test('entries of a failed ACK are watched for LOST_ACK_WINDOW_MS only', () => {
  let now = 1_000;
  const filter = new RedeliveryFilter(() => now);
  filter.addLost('orders', [b('p')]);
  now += LOST_ACK_WINDOW_MS - 1;
  filter.addLost('orders', [b('p')]);
  now += 1;
  // the first copy expired, the second (added later) is still watched
  assert.deepEqual(filter.filter('orders', [b('p'), b('p')]), { entries: [b('p')], dropped: 1 });
  filter.addLost('orders', [b('r')]);
  now += LOST_ACK_WINDOW_MS;
  assert.deepEqual(filter.filter('orders', [b('r')]), { entries: [b('r')], dropped: 0 });
});

test('recovered copies first, then those of a failed ACK, in one batch', () => {
  const filter = new RedeliveryFilter();
  filter.add('orders', b('a'));
  filter.addLost('orders', [b('x')]);
  assert.deepEqual(filter.filter('orders', [b('a'), b('x'), b('new')]), { entries: [b('new')], dropped: 2 });
});

test('copies of failed ACKs are remembered by digest and at most MAX_LOST_COPIES per source, the oldest forgotten first', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heapMiB = () => { gc(); gc(); return process.memoryUsage().heapUsed / 2 ** 20; };
  const filter = new RedeliveryFilter();
  // 1,000 leases of one 60 KiB entry each whose ACK failed: 60 MB of entries were kept whole for ten minutes.
  const before = heapMiB();
  for (let i = 0; i < 1_000; i++) filter.addLost('big', [Buffer.alloc(60 * 1024, i % 256).fill(String(i), 0)]);
  const grown = heapMiB() - before;
  assert.ok(grown < 10, `remembering 1,000 entries of 60 KiB grew the heap by ${grown.toFixed(1)} MiB`);
  assert.deepEqual(filter.filter('big', [Buffer.alloc(60 * 1024, 7).fill('7', 0)]).dropped, 1, 'a redelivered copy is still matched by its digest');

  const small = new RedeliveryFilter();
  small.addLost('s', Array.from({ length: MAX_LOST_COPIES + 10 }, (_, i) => b(`e${i}`)));
  assert.deepEqual(small.filter('s', [b('e0')]), { entries: [b('e0')], dropped: 0 }, 'the oldest copies past the bound are forgotten');
  assert.deepEqual(small.filter('s', [b('e10'), b('e11')]), { entries: [], dropped: 2 }, 'the newest MAX_LOST_COPIES are still matched');
});
