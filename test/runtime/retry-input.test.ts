import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, harness } from './harness.js';

// A processor fused after another is retried on the record the worker sent back with its failure, and that was the
// record object process() had been given: a value the failed attempt assigned to record.value (which the docs call
// fine) was what the retry got ({"replaced":1} instead of its input). Now the value is put back when an attempt fails.
test('a retry gets its input as it came, even when the failed attempt assigned record.value (a processor fused after another)', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('in', [1, 2, 3].map((n) => ({ value: { n } })));
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in }
processors:
  make: { module: ${JSON.stringify(fixture('retry-input.ts'))}, input: in, config: { how: make } }
  assign: { module: ${JSON.stringify(fixture('retry-input.ts'))}, input: make, config: { how: assign }, retry: { attempts: 3, initialDelay: 1ms } }
sinks:
  out: { topic: out, input: assign }
observability: { logLevel: silent }
`);
  assert.equal(summary.processors.assign!.retries, 3);
  const out = (await h.drain('out')).map((r) => r.value as { attempt: number; saw: string });
  assert.deepEqual(out.map((o) => [o.attempt, o.saw]).sort(), [1, 2, 3].map((n) => [2, JSON.stringify({ n, list: [] })]));
});
