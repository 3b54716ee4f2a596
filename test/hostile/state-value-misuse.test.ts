import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { harness } from '../runtime/harness.js';

// ctx.state misuse from a processor fails that record alone, dead-lettered naming the processor and the store, and
// leaves the store and the run intact. Before: `put(k, fn)` stored a key reading back undefined (`{ f() {} }` came
// back `{ f: undefined }`) and was not refused; a value holding a sparse array of length 2^32 - 1 was packed hole by
// hole until the step deadline ended the worker (35 s); a cycle failed with "Maximum call stack size exceeded".

const module = fileURLToPath(new URL('./fixtures/state-misuse.ts', import.meta.url));
const CASES: Array<[string, RegExp]> = [
  ['function', /the value for key "k1@fn" cannot be stored: it holds a function, which msgpack cannot store/],
  ['method', /the value for key "k3@method" cannot be stored: it holds a function at \.f,/],
  ['symbol', /the value for key "k5@sym" cannot be stored: it holds a symbol at \.a\[0\]/],
  ['cycle', /the value for key "k7@cycle" cannot be stored: it nests deeper than 64 levels at \.self\.self.*a cycle/],
  ['sparse', /the value for key "k9@sparse" cannot be stored: it holds an array of length 4294967295 at \.a, .*a sparse array/],
  ['huge', /the value for key "k11@huge" is \d+ bytes encoded, above the 32768-byte limit/],
  ['empty-key', /keys must be non-empty strings, got an empty string/],
  ['huge-key', /key "k15@k+…" is longer than 1024 UTF-8 bytes/],
  ['undeclared', /state store "nope" is not available to this processor; declared stores: kv/],
];

test('ctx.state misuse: each bad put is dead-lettered at once naming the processor and the store; the store holds only the good writes', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const records: Array<{ key: string; value: { case: string; i: number } }> = [];
  for (const [name] of CASES) {
    records.push({ key: `k${records.length}`, value: { case: 'ok', i: records.length } });
    records.push({ key: `k${records.length}`, value: { case: name, i: records.length } });
  }
  records.push({ key: `k${records.length}`, value: { case: 'after', i: records.length } });
  records.push({ key: `k${records.length}`, value: { case: 'ok', i: records.length } });
  await h.produce('in', records);
  const started = performance.now();
  const summary = await h.run(`
app: misuse
stateDir: \${STATE_DIR}
sources:
  in: { topic: in }
processors:
  p:
    module: ${JSON.stringify(module)}
    input: in
    ordering: key
    stores: [kv]
    retry: { attempts: 1 }
sinks:
  out: { topic: out, input: p }
stores:
  kv: { fsync: never }
`);
  const took = performance.now() - started;
  assert.equal(summary.processors.p!.deadLettered, CASES.length);
  assert.equal(summary.processors.p!.processed, records.length - CASES.length);
  assert.ok(took < 10_000, `took ${Math.round(took)} ms`);

  const dlq = (await h.drain('in.dlq')).map((d) => d.value as { processor: string; key: string; error: { code: string; message: string } });
  assert.equal(dlq.length, CASES.length);
  for (const [name, message] of CASES) {
    const i = records.findIndex((r) => r.value.case === name);
    const letter = dlq.find((d) => d.key === `k${i}`);
    assert.ok(letter, `${name}: dead-lettered`);
    assert.equal(letter.processor, 'p');
    assert.equal(letter.error.code, 'STATE_STORE_ERROR', name);
    assert.match(letter.error.message, message, name);
    if (name !== 'undeclared') assert.match(letter.error.message, /^store "kv": /, name);
  }

  // Only the good records' writes, each readable; nothing of the refused ones, nothing written after process() returned.
  const store = await KeyValueStore.open({ dir: storeDir(h.stateDir, 'misuse', 'kv'), name: 'kv' });
  try {
    const want = records.filter((r) => r.value.case === 'ok').map((r) => [`${r.key}@ok`, r.value.i]);
    assert.deepEqual(store.range().map((e) => [e.key, e.value]), want.sort((a, b) => (a[0]! < b[0]! ? -1 : 1)));
  } finally {
    await store.close();
  }
});
