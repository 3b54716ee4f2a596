import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { harness } from '../runtime/harness.js';
import { REFUSAL, REFUSED, ROUND_TRIP } from './fixtures/state-value-cases.js';

// What a processor puts in a store comes back as it was, in a later record, after a restart (the state dir) and on a
// new machine (restored from the changelog topic) — or is refused at put(). Before: a Map came back as a plain object
// (a Map with an object key failed to encode), a Set as an array, -0 as 0, a Uint8Array or Float64Array as a Buffer,
// a BigInt above 64 bits failed, and a class instance, a null-prototype object, an array hole, a RegExp, an Error, a
// boxed number, an own "__proto__" key or a lone surrogate were stored silently changed.

const module = fileURLToPath(new URL('./fixtures/processors/value-round-trip.ts', import.meta.url));
const topology = `
app: values
stateDir: \${STATE_DIR}
workers: 1
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
`;

const kept = Object.keys(ROUND_TRIP);
const refused = Object.keys(REFUSED);
const gets = () => kept.map((name) => ({ key: name, value: { op: 'get', name } }));

test('state values: each kept value reads back equal (type and content) in a later record, after a restart and after a restore from the changelog; each other value is refused at put()', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const readBack = async (when: string) => {
    const outputs = (await h.drain('out')).map((o) => o.value as { op: string; name: string; same?: boolean; got?: string })
      .filter((o) => o.op === 'get');
    assert.deepEqual(outputs.map((o) => o.name).sort(), [...kept].sort(), when);
    const wrong = outputs.filter((o) => o.same !== true).map((o) => `${o.name}: got ${o.got}`);
    assert.deepEqual(wrong, [], `${when}: values that did not read back as they were put`);
  };

  await h.produce('in', [...kept, ...refused].map((name) => ({ key: name, value: { op: 'put', name } })));
  await h.produce('in', gets());
  const first = await h.run(topology);
  await readBack('later record');

  const dlq = (await h.drain('in.dlq')).map((d) => d.value as { key: string; error: { code: string; message: string } });
  assert.deepEqual(dlq.map((d) => d.key).sort(), [...refused].sort(), 'refused at put()');
  for (const letter of dlq) {
    assert.equal(letter.error.code, 'STATE_STORE_ERROR', letter.key);
    assert.match(letter.error.message, new RegExp(`^store "kv": the value for key "${letter.key}" cannot be stored: `), letter.key);
    assert.match(letter.error.message, REFUSAL[letter.key]!, letter.key);
  }
  assert.equal(first.processors.p!.processed, kept.length * 2);

  await h.produce('in', gets());
  await h.run(topology);
  await readBack('after a restart');

  await rm(join(h.stateDir, 'values'), { recursive: true, force: true });
  await h.produce('in', gets());
  await h.run(topology);
  await readBack('after a restore from the changelog');
});
