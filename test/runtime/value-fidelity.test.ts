import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntry } from '../../src/codec/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { harness } from './harness.js';

// A value must come out the same whether the next processor shares its producer's stage group (it gets the very
// object) or not (the value crosses threads as bytes): a Map stays a Map, and what a JSON sink cannot hold (a Map, a
// Set, NaN, ±Infinity) fails the record there, named, on both sides, instead of being written as {} or null; a
// function, which cannot cross, fails the record where it is made.
test('values come out the same fused and unfused: next processors see the same types, msgpack sinks get the same bytes, JSON sinks refuse the same values', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const kinds = ['plain', 'map', 'set', 'nan', 'fn', 'date', 'proto'];
  await h.produce('in', kinds.map((value) => ({ value })), 1);
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in }
processors:
  make: { module: ./value-kinds.ts, input: in, deadLetter: dead }
  shape-fused: { module: ./value-shape.ts, input: make, deadLetter: dead }
  shape-unfused: { module: ./value-shape.ts, input: make, fuse: false, deadLetter: dead }
  relay-fused: { module: ./echo.js, input: make, deadLetter: dead }
  relay-unfused: { module: ./echo.js, input: make, fuse: false, deadLetter: dead }
  pack-fused: { module: ./echo.js, input: make, deadLetter: dead }
  pack-unfused: { module: ./echo.js, input: make, fuse: false, deadLetter: dead }
sinks:
  shape-fused: { topic: shape.fused, input: shape-fused }
  shape-unfused: { topic: shape.unfused, input: shape-unfused }
  json-fused: { topic: json.fused, input: relay-fused }
  json-unfused: { topic: json.unfused, input: relay-unfused }
  pack-fused: { topic: pack.fused, input: pack-fused, serializer: msgpack }
  pack-unfused: { topic: pack.unfused, input: pack-unfused, serializer: msgpack }
observability: { logLevel: silent }
`);
  const byKind = <T>(records: Array<{ value: unknown }>, view: (r: { value: unknown }) => T) =>
    Object.fromEntries(records.map((r) => [(r.value as { kind: string }).kind, view(r)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  // The next processor sees the same types.
  const shapes = byKind(await h.drain('shape.fused'), (r) => r.value);
  assert.deepEqual(byKind(await h.drain('shape.unfused'), (r) => r.value), shapes);
  assert.equal((shapes.map as { tags: string }).tags, 'Map');
  assert.equal((shapes.set as { ids: string }).ids, 'Set');
  assert.equal((shapes.date as { at: string }).at, 'Date');
  assert.deepEqual(Object.keys(shapes.proto as object), ['kind', '__proto__'], 'a "__proto__" key in a value is a key on both sides, not renamed');
  // msgpack sinks get the same bytes (a Map's number key stays a number key).
  const packed = async (topic: string) => Object.fromEntries((await h.drainEntries(topic)).flatMap((e) => decodeEntry(Buffer.from(e)))
    .map((r) => [Buffer.from(r.value).toString('hex'), r.value]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  const fusedBytes = await packed('pack.fused');
  assert.deepEqual(Object.keys(await packed('pack.unfused')), Object.keys(fusedBytes));
  assert.equal(Object.keys(fusedBytes).length, kinds.length - 1, 'every kind but fn (it cannot cross)');
  // JSON sinks write the same values and refuse the same ones, naming the path.
  const json = byKind(await h.drain('json.fused'), (r) => r.value);
  assert.deepEqual(byKind(await h.drain('json.unfused'), (r) => r.value), json);
  assert.deepEqual(Object.keys(json), ['date', 'plain', 'proto']);
  assert.ok(Object.hasOwn(json.proto as object, '__proto__'));
  const dead = (await h.drainEntries('dead')).map(parseDeadLetter);
  const reasons = dead.map((d) => `${d.processor}: ${d.error.code}: ${d.error.message.replace(/ for topic json\.(un)?fused/, '')}`).sort();
  const refused = (processor: string) => [
    `${processor}: SERIALIZATION_ERROR: Could not serialize a value: value.ids is a Set: JSON cannot hold it (it would write {}); convert it with Array.from.`,
    `${processor}: SERIALIZATION_ERROR: Could not serialize a value: value.tags is a Map: JSON cannot hold it (it would write {}); convert it with Object.fromEntries.`,
    `${processor}: SERIALIZATION_ERROR: Could not serialize a value: value.total is NaN: JSON cannot hold it (it would write null); use null, or a string.`,
  ];
  assert.deepEqual(reasons, [
    'make: SERIALIZATION_ERROR: processor "make" produced an output (#1, "default") that cannot be passed to another thread: it holds a function (fn), which MessagePack cannot hold',
    ...refused('relay-fused'), ...refused('relay-unfused'),
  ].sort());
  assert.equal(summary.inFlight, 0);
});
