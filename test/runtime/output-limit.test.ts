import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, harness } from './harness.js';

interface DeadLetter { processor: string; attempts: number; error: { code: string; message: string }; original?: string }

const deadLetters = async (h: Awaited<ReturnType<typeof harness>>, topic: string) =>
  (await h.drainEntries(topic)).map((e) => JSON.parse(e) as DeadLetter & { entry: string });

test('maxOutputs: a record whose processor emits, swallows the limit error, or returns past it is dead-lettered at once with OUTPUT_LIMIT and none of its outputs written; exactly maxOutputs passes', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const inputs = [
    { i: 0, n: 10, mode: 'emit' }, { i: 1, n: 11, mode: 'emit' }, { i: 2, n: 50, mode: 'catch' },
    { i: 3, n: 11, mode: 'return' }, { i: 4, n: 10, mode: 'return' }, { i: 5, n: 3, mode: 'catch' },
  ];
  await h.client.register('limit.in');
  await h.client.putMany('limit.in', inputs.map((v) => JSON.stringify(v)));
  const summary = await h.run(`
app: limit
stateDir: \${STATE_DIR}/state
sources:
  in: { topic: limit.in, format: text }
processors:
  many: { module: ${JSON.stringify(fixture('emit-many.ts'))}, input: in, maxOutputs: 10, deadLetter: limit.dlq }
  pass: { module: ${JSON.stringify(fixture('echo.js'))}, input: many }
sinks:
  out: { topic: limit.out, input: pass }
`);
  assert.equal(summary.processors.many!.deadLettered, 3);
  const written = (await h.drain('limit.out')).map((r) => r.value as { i: number; j: number });
  const byInput = new Map<number, number>();
  for (const { i } of written) byInput.set(i, (byInput.get(i) ?? 0) + 1);
  assert.deepEqual([...byInput].sort((a, b) => a[0] - b[0]), [[0, 10], [4, 10], [5, 3]], 'only the records within the limit have outputs, all of them');
  const dead = await deadLetters(h, 'limit.dlq');
  assert.deepEqual(dead.map((d) => [JSON.parse(d.entry).i, d.processor, d.error.code, d.attempts]).sort(),
    [[1, 'many', 'OUTPUT_LIMIT', 1], [2, 'many', 'OUTPUT_LIMIT', 1], [3, 'many', 'OUTPUT_LIMIT', 1]], 'not retried (retry.attempts is 3)');
  assert.match(dead[0]!.error.message, /processor "many" produced more than 10 outputs for record .*raise processors\.many\.maxOutputs/);
});

test('the default maxOutputs (100,000) stops a processor emitting a million outputs for one record before it fills the worker heap: OUTPUT_LIMIT, not a worker crash retried three times', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.client.register('flood.in');
  await h.client.putMany('flood.in', [{ i: 0, n: 1_000_000, mode: 'emit' }, { i: 1, n: 2, mode: 'emit' }].map((v) => JSON.stringify(v)));
  const summary = await h.run(`
app: flood
stateDir: \${STATE_DIR}/state
sources:
  in: { topic: flood.in, format: text }
processors:
  many: { module: ${JSON.stringify(fixture('emit-many.ts'))}, input: in, deadLetter: flood.dlq }
sinks:
  out: { topic: flood.out, input: many }
`, { workers: 1 });
  assert.equal(summary.processors.many!.deadLettered, 1);
  assert.equal(summary.processors.many!.retries, 0);
  const dead = await deadLetters(h, 'flood.dlq');
  assert.deepEqual(dead.map((d) => [JSON.parse(d.entry).i, d.error.code, d.attempts]), [[0, 'OUTPUT_LIMIT', 1]]);
  assert.match(dead[0]!.error.message, /more than 100,000 outputs/);
  assert.deepEqual((await h.drain('flood.out')).map((r) => (r.value as { j: number }).j).sort(), [0, 1]);
});
