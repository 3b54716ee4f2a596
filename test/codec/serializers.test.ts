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

test('json refuses what it would lose, anywhere in the value, naming the path: a Map, a Set, an Error, a RegExp, a WeakMap, a function, a symbol, NaN or ±Infinity', () => {
  const json = resolveSerializer<unknown>('json');
  const refused = (value: unknown, message: string) =>
    assert.throws(() => serializeValue(json, value, 't'), (e: unknown) => e instanceof WalrusError && e.code === 'SERIALIZATION_ERROR' && e.context.topic === 't'
      && e.message === `Could not serialize a value for topic t: ${message}.`, message);
  refused({ tags: new Map([['vip', true]]) }, 'value.tags is a Map: JSON cannot hold it (it would write {}); convert it with Object.fromEntries');
  refused({ ids: new Set([1]) }, 'value.ids is a Set: JSON cannot hold it (it would write {}); convert it with Array.from');
  refused({ a: [{ total: NaN }] }, 'value.a[0].total is NaN: JSON cannot hold it (it would write null); use null, or a string');
  refused([1, Infinity], 'value[1] is Infinity: JSON cannot hold it (it would write null); use null, or a string');
  refused({ 'x-y': -Infinity }, 'value["x-y"] is -Infinity: JSON cannot hold it (it would write null); use null, or a string');
  refused({ keep: 1, fn() {} }, 'value.fn is a function: JSON cannot hold it (it would drop it); leave it out of the value');
  refused([Symbol('s')], 'value[0] is a symbol: JSON cannot hold it (it would drop it); use a string');
  refused(new Map(), 'value is a Map: JSON cannot hold it (it would write {}); convert it with Object.fromEntries');
  refused({ err: new Error('boom') }, 'value.err is an Error: JSON cannot hold it (it would write {}: message and stack are not own enumerable fields); convert it, e.g. { message: e.message }');
  refused({ match: /a+/ }, 'value.match is a RegExp: JSON cannot hold it (it would write {}); use its source string');
  refused([new WeakMap()], 'value[0] is a WeakMap or WeakSet: JSON cannot hold it (it would write {}); leave it out of the value');
  refused({ when: { toJSON: () => ({ at: NaN }) } }, 'value.when.at is NaN: JSON cannot hold it (it would write null); use null, or a string');
  let deep: unknown = { bad: new Set() };
  for (let i = 0; i < 100; i++) deep = { d: deep };
  refused(deep, `value${'.d'.repeat(100)}.bad is a Set: JSON cannot hold it (it would write {}); convert it with Array.from`);
  // What JSON keeps as it is still goes: toJSON results, undefined properties, inherited properties (JSON's own rules).
  function Legacy(this: { x: number }) { this.x = 1; }
  Legacy.prototype.method = function method() {};
  const fine = { at: new Date(0), gone: undefined, legacy: new (Legacy as unknown as new () => object)(), n: -0 };
  assert.equal(Buffer.from(serializeValue(json, fine, 't')).toString(), '{"at":"1970-01-01T00:00:00.000Z","legacy":{"x":1},"n":0}');
  // A cycle is JSON.stringify's error (the check stops instead of running round it, also with a branching cycle).
  const cycle: Record<string, unknown> = {};
  cycle.a = cycle; cycle.b = cycle;
  assert.throws(() => serializeValue(json, { cycle }, 't'), /Could not serialize a value for topic t: Converting circular structure to JSON/);
});

test('msgpack refuses a function anywhere in the value (msgpackr would write nil in its place)', () => {
  const mp = resolveSerializer<unknown>('msgpack');
  assert.throws(() => serializeValue(mp, { keep: 1, nested: [function hook() {}] }, 't'),
    (e: unknown) => e instanceof WalrusError && e.code === 'SERIALIZATION_ERROR' && /it holds a function \(hook\), which MessagePack cannot hold/.test(e.message));
  assert.deepEqual(mp.deserialize(bytes(mp.serialize({ m: new Map([['a', 1]]), n: NaN }))), { m: { a: 1 }, n: NaN });
});
