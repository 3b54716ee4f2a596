import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LeaseBook } from '../../src/broker/leases.js';
import { MemoryStore } from '../../src/broker/store/memory-store.js';

/**
 * Model-based check of the lease bookkeeping on the real memory store:
 * random interleavings of appends, leases, acks (right and wrong owner),
 * GETs and connection closes, compared step by step with a plain model.
 */
type Op =
  | { kind: 'put'; count: number }
  | { kind: 'lease'; owner: number; max: number }
  | { kind: 'ack'; owner: number; pick: number }
  | { kind: 'ack-other'; owner: number; pick: number }
  | { kind: 'get' }
  | { kind: 'close'; owner: number };

const OWNERS = 3;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('lease' as const), owner: fc.integer({ min: 0, max: OWNERS - 1 }), max: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('ack' as const), owner: fc.integer({ min: 0, max: OWNERS - 1 }), pick: fc.nat() }),
  fc.record({ kind: fc.constant('ack-other' as const), owner: fc.integer({ min: 0, max: OWNERS - 1 }), pick: fc.nat() }),
  fc.record({ kind: fc.constant('get' as const) }),
  fc.record({ kind: fc.constant('close' as const), owner: fc.integer({ min: 0, max: OWNERS - 1 }) }),
);

const index = (entry: Buffer): number => Number(entry.toString().slice(1));

test('leases: nothing handed out twice at once, released entries first, the committed cursor at the oldest owed entry, every entry consumed exactly once', () => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
    const store = new MemoryStore(7);
    const log = store.register('t');
    const book = new LeaseBook(0);
    let owners = Array.from({ length: OWNERS }, () => ({}));
    // Model.
    let appended = 0;
    let head = 0;
    let redeliver: number[] = [];
    let held = new Map<object, Array<{ id: number; indexes: number[] }>>();
    const consumed = new Map<number, number>();
    const consume = (i: number): void => void consumed.set(i, (consumed.get(i) ?? 0) + 1);
    const takeExpected = (max: number): number[] => {
      const out = redeliver.slice(0, max);
      redeliver = redeliver.slice(out.length);
      while (out.length < max && head < appended) out.push(head++);
      return out;
    };

    for (const op of ops) {
      switch (op.kind) {
        case 'put':
          for (let k = 0; k < op.count; k++) log.append(Buffer.from(`e${appended++}`));
          break;
        case 'lease': {
          const owner = owners[op.owner]!;
          const expected = takeExpected(op.max);
          const got = book.lease(log, owner, op.max, () => true);
          if (expected.length === 0) {
            assert.equal(got, undefined);
            break;
          }
          assert.ok(got && typeof got === 'object');
          assert.deepEqual(got.entries.map(index), expected);
          held.set(owner, [...(held.get(owner) ?? []), { id: got.id, indexes: expected }]);
          break;
        }
        case 'ack': {
          const owner = owners[op.owner]!;
          const leases = held.get(owner) ?? [];
          if (leases.length === 0) break;
          const [lease] = leases.splice(op.pick % leases.length, 1);
          assert.equal(book.ack(log, owner, lease!.id), true);
          assert.equal(book.ack(log, owner, lease!.id), false, 'an ACK cannot be repeated');
          for (const i of lease!.indexes) consume(i);
          break;
        }
        case 'ack-other': {
          const other = owners[(op.owner + 1) % OWNERS]!;
          const leases = held.get(other) ?? [];
          if (leases.length === 0) break;
          assert.equal(book.ack(log, owners[op.owner]!, leases[op.pick % leases.length]!.id), false, 'leases are bound to their owner');
          break;
        }
        case 'get': {
          const expected = takeExpected(1);
          const got = book.consumeOne(log);
          assert.deepEqual(got === undefined ? [] : [index(got)], expected);
          for (const i of expected) consume(i);
          break;
        }
        case 'close': {
          const owner = owners[op.owner]!;
          book.releaseOwner(owner);
          const released = (held.get(owner) ?? []).flatMap((l) => l.indexes);
          redeliver = [...redeliver, ...released].sort((a, b) => a - b);
          held.delete(owner);
          owners = owners.map((o) => (o === owner ? {} : o)); // a new connection takes its place
          break;
        }
      }
      const owed = [...redeliver, ...[...held.values()].flat().flatMap((l) => l.indexes)];
      const snapshot = log.snapshot();
      assert.equal(snapshot.committedCursor, Math.min(head, ...owed), 'committed cursor = oldest owed entry');
      assert.equal(snapshot.readCursor, head);
      assert.equal(new Set(owed).size, owed.length, 'no entry owed twice');
      for (const count of consumed.values()) assert.equal(count, 1, 'consumed at most once');
    }

    // Every connection goes away; a GET reader drains the topic.
    for (const owner of owners) book.releaseOwner(owner);
    for (let entry = book.consumeOne(log); entry !== undefined; entry = book.consumeOne(log)) consume(index(entry));
    for (let i = 0; i < appended; i++) assert.equal(consumed.get(i), 1, `entry ${i} consumed exactly once`);
    assert.equal(log.snapshot().committedCursor, appended);
    held = new Map();
  }), { numRuns: 300 });
});
