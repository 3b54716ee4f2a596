import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConsistentHashBalancer, HashRing, LeastOutstandingBalancer, RoundRobinBalancer, hash32 } from '../../src/client/index.js';

const ids = ['10.0.0.1:9091', '10.0.0.2:9091', '10.0.0.3:9091'];
const topics = Array.from({ length: 3_000 }, (_, i) => `orders-${i}`);

test('hash32 is stable and spreads similar keys', () => {
  assert.equal(hash32('orders'), hash32('orders'));
  assert.notEqual(hash32('orders-1'), hash32('orders-2'));
  const high = topics.filter((t) => hash32(t) >= 2 ** 31).length;
  assert.ok(high > 1_300 && high < 1_700, `${high} of 3000 in the upper half`);
});

test('the ring spreads topics evenly over nodes with virtual nodes', () => {
  const ring = new HashRing(ids.map((id) => ({ id, node: id })), 160);
  const counts = new Map<string, number>();
  for (const t of topics) counts.set(ring.lookup(t)!, (counts.get(ring.lookup(t)!) ?? 0) + 1);
  for (const id of ids) assert.ok(counts.get(id)! > 800 && counts.get(id)! < 1_200, `${id}: ${counts.get(id)}`);
});

test('removing a node moves only the topics it owned; preference lists each node once', () => {
  const full = new HashRing(ids.map((id) => ({ id, node: id })));
  const less = new HashRing(ids.slice(0, 2).map((id) => ({ id, node: id })));
  for (const t of topics) {
    const owner = full.lookup(t)!;
    if (owner !== ids[2]) assert.equal(less.lookup(t), owner, t);
    else assert.equal(less.lookup(t), full.preference(t)[1], `${t} fails over to its ring successor`);
    assert.equal(new Set(full.preference(t)).size, 3);
  }
});

interface FakeNode { id: string; outstanding: number; available: boolean }
const nodes = (): FakeNode[] => ids.map((id) => ({ id, outstanding: 0, available: true }));

test('round-robin rotates and puts unavailable nodes last', () => {
  const ns = nodes();
  const rr = new RoundRobinBalancer(ns);
  assert.deepEqual([rr.order()[0]!.id, rr.order()[0]!.id, rr.order()[0]!.id, rr.order()[0]!.id], [ids[0], ids[1], ids[2], ids[0]]);
  ns[1]!.available = false;
  const firsts = Array.from({ length: 6 }, () => rr.order());
  assert.ok(firsts.every((o) => o[0]!.id !== ids[1] && o[2]!.id === ids[1]));
});

test('least-outstanding picks the least busy node and rotates among equals', () => {
  const ns = nodes();
  const lo = new LeastOutstandingBalancer(ns);
  ns[0]!.outstanding = 5;
  ns[1]!.outstanding = 1;
  ns[2]!.outstanding = 3;
  assert.equal(lo.order()[0]!.id, ids[1]);
  ns[1]!.outstanding = 3;
  const picks = new Set(Array.from({ length: 4 }, () => lo.order()[0]!.id));
  assert.deepEqual([...picks].sort(), [ids[1], ids[2]]);
});

test('consistent-hash pins a topic to one node and fails over along the ring', () => {
  const ns = nodes();
  const ch = new ConsistentHashBalancer(ns);
  const first = ch.order('payments')[0]!;
  for (let i = 0; i < 10; i++) assert.equal(ch.order('payments')[0], first);
  first.available = false;
  const second = ch.order('payments')[0]!;
  assert.notEqual(second, first);
  first.available = true;
  assert.equal(ch.order('payments')[0], first);
});
