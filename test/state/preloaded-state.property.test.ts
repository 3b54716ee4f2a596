import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PreloadedState, WritesOverState, foldWrites } from '../../src/state/worker/worker-state.js';
import { ChangeSet } from '../../src/state/model/change-set.js';
import { decodeValue, encodeValue } from '../../src/state/model/codec.js';
import { inRange, type RangeOptions } from '../../src/state/model/range.js';

// A worker's view of a preload looks entries up by binary search over one
// sorted array, and a key run folds each record's writes into that array.
// Checked against the definition: a Map of the entries (the last of equal
// keys winning), filtered and sorted by JavaScript string order.

const KEYS = ['a', 'a@1', 'a@10', 'a@2', 'a@2@x', 'a@~stream-time', 'ab', 'ab@1', 'b', 'b@1', '@a', '', 'é', 'a@\uffff'];
const key = fc.constantFrom(...KEYS);
const bytes = fc.uint8Array({ minLength: 0, maxLength: 3 });
const entries = fc.array(fc.tuple(key, bytes), { maxLength: 12 });
const sortedEntries = entries.map((list) => [...new Map(list)].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
const range: fc.Arbitrary<RangeOptions> = fc.record({ prefix: key, start: key, end: key }, { requiredKeys: [] });

function model(list: ReadonlyArray<readonly [string, Uint8Array]>): Map<string, Uint8Array> {
  return new Map(list);
}

function sortedRange(map: Map<string, Uint8Array>, opts: RangeOptions): Array<[string, Uint8Array]> {
  return [...map].filter(([k]) => inRange(k, opts)).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

test('PreloadedState: getBytes and rangeBytes agree with a Map of the entries, sorted or not', () => {
  fc.assert(fc.property(fc.oneof(entries, sortedEntries), fc.array(key, { maxLength: 6 }), fc.array(range, { maxLength: 4 }), (list, gets, ranges) => {
    const state = new PreloadedState(list);
    const map = model(list);
    for (const k of [...gets, ...KEYS]) assert.equal(state.getBytes(k), map.get(k), `getBytes(${JSON.stringify(k)})`);
    for (const opts of [...ranges, {}]) assert.deepEqual(state.rangeBytes(opts), sortedRange(map, opts), `rangeBytes(${JSON.stringify(opts)})`);
    assert.deepEqual(state.entries, sortedRange(map, {}));
  }), { numRuns: 500 });
});

test('foldWrites: the entries with the writes applied in order (null deletes), in key order, input untouched', () => {
  fc.assert(fc.property(fc.oneof(sortedEntries, entries), fc.array(fc.tuple(key, fc.option(bytes, { nil: null })), { maxLength: 8 }), (list, writes) => {
    const before = list.map(([k, v]) => [k, v] as const);
    const map = model(list);
    for (const [k, v] of writes) { if (v === null) map.delete(k); else map.set(k, v); }
    const folded = foldWrites(list, writes);
    assert.deepEqual(folded, sortedRange(map, {}));
    assert.deepEqual(list, before, 'the preload it folded into is not modified (another chain may hold it)');
    // What the next record of the run sees through its view.
    const state = new PreloadedState(folded);
    for (const k of KEYS) assert.equal(state.getBytes(k), map.get(k));
  }), { numRuns: 500 });
});

test('ChangeSet.range over a preload: its own writes merged in (deletes hide, new keys in order), the limit kept, every listed key read', () => {
  const value = fc.integer({ min: 0, max: 9 });
  const key = fc.constantFrom(...KEYS.filter((k) => k !== '')); // '' is not a valid store key
  const puts = fc.array(fc.tuple(key, fc.option(value, { nil: null })), { maxLength: 5 });
  const limited: fc.Arbitrary<RangeOptions> = fc.record({ prefix: key, start: key, end: key, limit: fc.integer({ min: 1, max: 4 }) }, { requiredKeys: [] });
  fc.assert(fc.property(fc.array(fc.tuple(key, value), { maxLength: 10 }), puts, limited, (base, writes, opts) => {
    const encoded = [...new Map(base)].map(([k, v]) => [k, encodeValue('s', k, v)] as const);
    const set = new ChangeSet('s', new PreloadedState(encoded));
    const model = new Map<string, number>(new Map(base));
    for (const [k, v] of writes) {
      if (v === null) { set.delete(k); model.delete(k); } else { set.put(k, v); model.set(k, v); }
    }
    const expected = [...model].filter(([k]) => inRange(k, opts)).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, opts.limit);
    const got = set.range<number>(opts);
    assert.deepEqual(got.map((e) => [e.key, e.value]), expected, `range(${JSON.stringify(opts)})`);
    const reads = new Set(set.readKeys());
    for (const { key: k } of got) assert.ok(reads.has(k), `${k} listed but not recorded as read`);
  }), { numRuns: 500 });
  assert.equal(decodeValue(encodeValue('s', 'k', 3)), 3);
});

test('WritesOverState (a key run over entries read on demand): reads as the folded entries do, layered once per record', () => {
  const writes = fc.array(fc.tuple(key, fc.option(bytes, { nil: null })), { maxLength: 6 });
  fc.assert(fc.property(sortedEntries, fc.array(writes, { minLength: 1, maxLength: 3 }), fc.array(range, { maxLength: 4 }), (list, runs, ranges) => {
    let folded: ReadonlyArray<readonly [string, Uint8Array]> = list;
    let layered: PreloadedState | WritesOverState = new PreloadedState(list);
    for (const w of runs) {
      folded = foldWrites(folded, w);
      layered = new WritesOverState(layered, w);
    }
    const expected = new PreloadedState(folded);
    for (const k of KEYS) assert.equal(layered.getBytes(k), expected.getBytes(k), `getBytes(${JSON.stringify(k)})`);
    for (const opts of [...ranges, {}]) assert.deepEqual(layered.rangeBytes(opts), expected.rangeBytes(opts), `rangeBytes(${JSON.stringify(opts)})`);
  }), { numRuns: 500 });
});
