import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSerializer, serializeValue, type Serializer } from '../../src/codec/index.js';
import { WalrusError } from '../../src/errors/index.js';

const bytes = (s: Uint8Array | string) => (typeof s === 'string' ? Buffer.from(s) : s);

test('json, msgpack, string and raw round-trip their values', () => {
  const json = resolveSerializer<unknown>('json');
  const value = { a: 1, b: ['x', null, true], c: 'ü 💡 ' };
  assert.deepEqual(json.deserialize(bytes(json.serialize(value))), value);
  const mp = resolveSerializer<unknown>('msgpack');
  const mpValue = { n: 2 ** 40, s: 'ß', bin: Buffer.from([0, 1, 2]), nested: { list: [1.5, -3] } };
  assert.deepEqual(mp.deserialize(bytes(mp.serialize(mpValue))), mpValue);
  const str = resolveSerializer<string>('string');
  assert.equal(str.deserialize(bytes(str.serialize('trailing  \u3000'))), 'trailing  \u3000');
  const raw = resolveSerializer<Uint8Array>('raw');
  assert.deepEqual([...raw.deserialize(bytes(raw.serialize(new Uint8Array([0, 128, 255]))))], [0, 128, 255]);
  assert.equal(json.contentType, 'application/json');
});

test('a custom serializer is used as given and checked for its methods', () => {
  const upper: Serializer<string> = { serialize: (s) => s.toUpperCase(), deserialize: (b) => Buffer.from(b).toString().toLowerCase() };
  assert.equal(resolveSerializer(upper), upper);
  assert.throws(() => resolveSerializer({ serialize: () => '' } as unknown as Serializer<string>), { code: 'CONFIG_INVALID' });
  assert.throws(() => resolveSerializer('yaml' as 'json'), /Unknown serializer "yaml"/);
});

test('serialization failures become SERIALIZATION_ERROR with the topic', () => {
  const check = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof WalrusError && e.code === 'SERIALIZATION_ERROR' && e.context.topic === 't' && pattern.test(e.message));
  check(() => serializeValue(resolveSerializer<unknown>('json'), undefined, 't'), /JSON cannot represent/);
  check(() => serializeValue(resolveSerializer<unknown>('json'), { self: 1n }, 't'), /BigInt/);
  check(() => serializeValue(resolveSerializer<string>('string'), 5 as unknown as string, 't'), /takes strings/);
  check(() => serializeValue(resolveSerializer<string>('string'), 'a\ud800', 't'), /lone surrogate/);
  check(() => serializeValue(resolveSerializer<Uint8Array>('raw'), 'x' as unknown as Uint8Array, 't'), /Uint8Array/);
  assert.deepEqual(serializeValue(resolveSerializer<string>('string'), 'é', 't'), Buffer.from('é'));
});

test('deserializing bytes that are not UTF-8 or JSON throws', () => {
  assert.throws(() => resolveSerializer<string>('string').deserialize(new Uint8Array([0xff])));
  assert.throws(() => resolveSerializer<unknown>('json').deserialize(Buffer.from('{oops')));
});
