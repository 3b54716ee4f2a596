import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntry } from '../../src/codec/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { fixture, harness } from './harness.js';

type Input = { i: number; n: number; size: number; as: string };
const inputOf = (d: { original: Buffer | string }) => JSON.parse(decodeEntry(d.original)[0]!.value.toString()) as Input;

// There was no bound on the bytes one record's outputs take, only on their count: one record emitting 50 strings of
// 30 MB into the next stage group took a `run --until-idle` to 8.4 GB of RSS and 36.8 s (and 10 of them to 2.4 GB).
// maxOutputBytes (default 64MiB) now fails such a record with OUTPUT_LIMIT, not retried, none of its outputs written.
test('maxOutputBytes: a record whose emitted strings or Buffers, returned strings, or encoded objects pass it is dead-lettered at once with OUTPUT_LIMIT and none of its outputs written; its neighbours within it go through', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  // 20 KiB: 6 × 4,000 characters pass it as emitted; 3 × 4,000 only encoded, each output once for the sink beside it and
  // once for the next stage group (what the coordinator holds); 2 × 4,000 does not.
  const inputs: Input[] = [
    { i: 0, n: 2, size: 4000, as: 'string' }, { i: 1, n: 6, size: 4000, as: 'string' }, { i: 2, n: 6, size: 4000, as: 'buffer' },
    { i: 3, n: 3, size: 4000, as: 'object' }, { i: 4, n: 6, size: 4000, as: 'return' }, { i: 5, n: 2, size: 4000, as: 'object' },
    { i: 6, n: 2, size: 4000, as: 'return' }, { i: 7, n: 3, size: 4000, as: 'string' },
  ];
  await h.produce('in', inputs.map((value) => ({ value })));
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in }
processors:
  sized: { module: ${JSON.stringify(fixture('emit-sized.ts'))}, input: in, maxOutputBytes: 20KiB, deadLetter: dead, retry: { attempts: 3, initialDelay: 1ms } }
  next: { module: ${JSON.stringify(fixture('echo.js'))}, input: sized, fuse: false }
sinks:
  direct: { topic: direct, input: sized, serializer: json }
  after: { topic: after, input: next, serializer: json }
observability: { logLevel: silent }
`);
  const dead = (await h.drainEntries('dead')).map(parseDeadLetter);
  assert.deepEqual(dead.map((d) => [inputOf(d).i, d.processor, d.error.code, d.attempts]).sort(),
    [1, 2, 3, 4, 7].map((i) => [i, 'sized', 'OUTPUT_LIMIT', 1]), 'not retried');
  const message = (i: number) => dead.find((d) => inputOf(d).i === i)!.error.message;
  assert.match(message(1), /^processor "sized" produced more than 20,480 bytes of outputs \(strings, binary values, keys and headers as emitted\) for record \S+; the record is dead-lettered .*raise processors\.sized\.maxOutputBytes/);
  assert.match(message(2), /as emitted/);
  assert.match(message(4), /as emitted/);
  for (const i of [3, 7]) assert.match(message(i), /^processor "sized" produced more than 20,480 bytes of outputs \(as encoded for its sinks and the next stage groups\)/);
  const direct = await h.drain('direct');
  const after = await h.drain('after');
  assert.equal(direct.length, 6, 'records 0, 5 and 6, two outputs each');
  assert.equal(after.length, 6);
  assert.equal(summary.processors.sized!.deadLettered, 5);
  assert.equal(summary.processors.sized!.emitted, 6);
  assert.equal(summary.processors.next!.processed, 6);
});

test('the default maxOutputBytes (64MiB) stops one record emitting 70 strings of 1 MiB before they cross to the next stage group', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('in', [{ value: { i: 0, n: 70, size: 1 << 20, as: 'string' } }, { value: { i: 1, n: 2, size: 10, as: 'string' } }]);
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in }
processors:
  sized: { module: ${JSON.stringify(fixture('emit-sized.ts'))}, input: in, deadLetter: dead }
  next: { module: ${JSON.stringify(fixture('echo.js'))}, input: sized, fuse: false }
sinks:
  after: { topic: after, input: next, serializer: json }
observability: { logLevel: silent }
`);
  const dead = (await h.drainEntries('dead')).map(parseDeadLetter);
  assert.deepEqual(dead.map((d) => [inputOf(d).i, d.error.code, d.attempts]), [[0, 'OUTPUT_LIMIT', 1]]);
  assert.match(dead[0]!.error.message, /more than 67,108,864 bytes of outputs/);
  assert.deepEqual((await h.drain('after')).map((r) => r.value), ['a'.repeat(10), 'b'.repeat(10)]);
  assert.equal(summary.processors.next!.processed, 2, 'none of the 70 MiB crossed');
});

// Keys and headers were not counted: 1,000 outputs sharing one 1 MB key (or header) into the next stage group took a
// run to 3.7 GB of RSS and 30 s, every output crossing with its own copy. An output's own key and headers count now.
test('maxOutputBytes counts the keys and headers outputs carry: many small outputs sharing one large key or header pass it', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const inputs: Input[] = [
    { i: 0, n: 2, size: 4000, as: 'key' }, { i: 1, n: 6, size: 4000, as: 'key' }, { i: 2, n: 6, size: 4000, as: 'header' }, { i: 3, n: 2, size: 4000, as: 'header' },
  ];
  await h.produce('in', inputs.map((value) => ({ value })));
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in }
processors:
  sized: { module: ${JSON.stringify(fixture('emit-sized.ts'))}, input: in, maxOutputBytes: 20KiB, deadLetter: dead }
  next: { module: ${JSON.stringify(fixture('echo.js'))}, input: sized, fuse: false }
sinks:
  after: { topic: after, input: next, serializer: json }
observability: { logLevel: silent }
`);
  const dead = (await h.drainEntries('dead')).map(parseDeadLetter);
  assert.deepEqual(dead.map((d) => [inputOf(d).i, d.error.code, d.attempts]).sort(), [[1, 'OUTPUT_LIMIT', 1], [2, 'OUTPUT_LIMIT', 1]]);
  for (const d of dead) assert.match(d.error.message, /more than 20,480 bytes of outputs \(strings, binary values, keys and headers as emitted\)/);
  const after = await h.drain('after');
  assert.deepEqual(after.map((r) => (r.value as { i: number }).i).sort(), [0, 0, 3, 3]);
  assert.equal(summary.processors.next!.processed, 4);
});
