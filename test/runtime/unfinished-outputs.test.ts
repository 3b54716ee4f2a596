import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntry } from '../../src/codec/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { harness } from './harness.js';

// A Promise or a generator has no own fields: JSON, MessagePack and the thread crossing all wrote it as {}, so
// `return values.map(async ...)` wrote empty records and the inputs counted as processed. Each must fail its record
// (dead-lettered at once, naming the processor and what to do), and an async process() whose result breaks a rule
// (too many outputs) must fail its record, not the whole task as a worker crash.
test('a processor that hands back unfinished work (Promises, generators) has the record dead-lettered with the reason, never written as {}; its neighbours pass', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const bad = ['promise-array', 'generator', 'async-generator', 'emit-promise', 'nested-promise', 'async-too-many'];
  const kinds = ['ok', ...bad, 'ok'];
  await h.produce('in', kinds.map((kind, i) => ({ value: { kind, i } })), 1);
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in }
processors:
  p: { module: ./unfinished-outputs.ts, input: in, maxOutputs: 2, deadLetter: dead, retry: { attempts: 3, initialDelay: 1ms } }
  u: { module: ./echo.js, input: p, fuse: false }
sinks:
  json: { topic: json, input: p }
  pack: { topic: pack, input: p, serializer: msgpack }
  unfused: { topic: unfused, input: u }
observability: { logLevel: silent }
`);
  const good = [0, kinds.length - 1];
  assert.deepEqual((await h.drain('json')).map((r) => r.value), good.map((i) => ({ i })));
  assert.deepEqual((await h.drain('unfused')).map((r) => r.value), good.map((i) => ({ i })));
  const packed = (await h.drainEntries('pack')).flatMap((e) => decodeEntry(Buffer.from(e)));
  assert.equal(packed.length, good.length, 'no {} in the msgpack sink either');
  const dead = new Map((await h.drainEntries('dead')).map(parseDeadLetter)
    .map((d) => [(JSON.parse(decodeEntry(d.original)[0]!.value.toString()) as { kind: string }).kind, d]));
  assert.deepEqual([...dead.keys()].sort(), [...bad].sort());
  const reasons: Record<string, RegExp> = {
    'promise-array': /^INVALID_ARGUMENT: processor "p" returned, as element #1 of its array, a Promise, which is no record value .*await it/,
    generator: /^INVALID_ARGUMENT: processor "p" returned a generator \(or iterator\), which is no record value .*return \[\.\.\.values\]/,
    'async-generator': /^INVALID_ARGUMENT: processor "p" returned an async generator \(or async iterator\), which is no record value .*for await/,
    'emit-promise': /^INVALID_ARGUMENT: processor "p" emitted to "default" a Promise, which is no record value/,
    'nested-promise': /^SERIALIZATION_ERROR: .*(value\.later is a Promise|it holds a Promise).*await it inside process\(\)/,
    'async-too-many': /^OUTPUT_LIMIT: /,
  };
  for (const [kind, d] of dead) {
    assert.equal(d.processor, 'p', kind);
    assert.match(`${d.error.code}: ${d.error.message}`, reasons[kind]!, kind);
    assert.equal(d.attempts, 1, `${kind}: not retried, it can never succeed`);
  }
  assert.equal(summary.processors.p!.deadLettered, bad.length);
  assert.equal(summary.processors.p!.processed, good.length);
  assert.equal(summary.inFlight, 0);
});
