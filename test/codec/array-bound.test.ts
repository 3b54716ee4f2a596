import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_DECOMPRESSED_BYTES, jsonSerializer, msgpackSerializer, resolveSerializer, serializeValue } from '../../src/codec/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { sparse, tooLarge } from '../helpers/sparse.js';

// 2^24 holes took msgpackr 0.4 s and JSON 1.7 s to write (and 2^32 - 1 about 84 s in msgpackr) before the entry
// limit refused the result: the length alone now refuses it, before an element is visited. `watched` arrays
// count reads of their first and last elements, so that is checked, not timed (a loaded machine slows any clock).
let visits = 0;
function watched(length: number): unknown[] {
  const a = sparse(length);
  for (const i of [0, length - 1]) Object.defineProperty(a, i, { get: () => { visits += 1; return 1; }, enumerable: true, configurable: true });
  return a;
}

for (const name of ['json', 'msgpack'] as const) {
  test(`${name}: an array longer than the entry limit fails at once with MESSAGE_TOO_LARGE naming its length and the limit, wherever it is in the value`, () => {
    const serializer = resolveSerializer(name);
    visits = 0;
    assert.throws(() => serializeValue(serializer, { a: watched(2 ** 24) }, 'orders', 65_531), tooLarge(2 ** 24, 65_531));
    assert.throws(() => serializeValue(serializer, [[1], { deep: [watched(70_000)] }], 'orders', 65_531), tooLarge(70_000, 65_531));
    if (name === 'msgpack') {
      assert.throws(() => serializeValue(serializer, new Map([['k', watched(70_000)]]), 'orders', 65_531), tooLarge(70_000, 65_531));
      assert.throws(() => serializeValue(serializer, new Set([watched(70_000)]), 'orders', 65_531), tooLarge(70_000, 65_531));
    }
    // Nested deeper than the fast walk goes (64 levels): still found.
    let deep: unknown = { a: watched(70_000) };
    for (let i = 0; i < 200; i++) deep = { deep };
    assert.throws(() => serializeValue(serializer, deep, 'orders', 65_531), tooLarge(70_000, 65_531));
    assert.equal(visits, 0, 'refused from the length alone, before an element was read');
    // The control: an array within the limit is read, element by element.
    serializeValue(serializer, { a: watched(3) }, 'orders', 65_531);
    assert.ok(visits > 0, 'the watch sees the reads of an array that is written');
    // Arrays within the limit are written as before.
    const bytes = serializeValue(serializer, { items: [1, 2, 3], holes: sparse(3) }, 'orders', 65_531);
    assert.deepEqual(serializer.deserialize(bytes), name === 'json' ? { items: [1, 2, 3], holes: [null, null, null] } : { items: [1, 2, 3], holes: [undefined, undefined, undefined] });
  });
}

test('a sparse array of length 2^32 - 1 is refused at once by both serializers, also called directly (bound: what an entry holds before compression)', () => {
  visits = 0;
  for (const serializer of [jsonSerializer, msgpackSerializer]) {
    assert.throws(() => serializeValue(serializer, { a: watched(2 ** 32 - 1) }), tooLarge(2 ** 32 - 1, MAX_DECOMPRESSED_BYTES));
    assert.throws(() => serializer.serialize({ a: watched(2 ** 32 - 1) }), /array of length 4294967295, which encodes to at least 4294967295 bytes, over the max entry size of 33554432 bytes \(a sparse array\?/);
  }
  assert.equal(visits, 0, 'refused from the length alone, before an element was read');
});

test('msgpack: a value that refers to itself twice is refused (a cycle), not walked for ever by the array check', () => {
  const cyclic: Record<string, unknown> = { n: 1 };
  cyclic.a = cyclic;
  cyclic.b = cyclic;
  const started = performance.now();
  assert.throws(() => serializeValue(msgpackSerializer, cyclic, 'orders', 65_531), (e: unknown) => (e as WalrusError).code === 'SERIALIZATION_ERROR' && /refers to itself/.test((e as Error).message));
  assert.ok(performance.now() - started < 2_000, `took ${performance.now() - started} ms`);
});
