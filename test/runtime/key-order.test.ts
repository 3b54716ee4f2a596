import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { harness, type Harness } from './harness.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

test('key ordering: per-key output order equals input order with many keys, several workers and a retry', async () => {
  const keys = 40;
  const n = 1_200;
  const inputs = Array.from({ length: n }, (_, i) => ({ key: `k${(i * 7919) % keys}`, value: { seq: i, key: `k${(i * 7919) % keys}` } }));
  await h.produce('in', inputs, 10);
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 3
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  first: { module: ./jitter.ts, input: in, ordering: key, batchSize: 8, concurrency: 6, config: { failEvery: 13 }, retry: { attempts: 2, initialDelay: 2ms, maxDelay: 5ms } }
  second: { module: ./jitter.ts, input: first, ordering: key, batchSize: 8, concurrency: 6 }
sinks:
  out: { topic: out, input: second, batch: { maxRecords: 7, linger: 1ms } }
`);
  const out = await h.drain('out');
  assert.equal(out.length, n);
  const perKey = new Map<string, number[]>();
  for (const r of out) {
    const v = r.value as { seq: number; key: string };
    assert.equal(r.key, v.key);
    perKey.set(v.key, [...(perKey.get(v.key) ?? []), v.seq]);
  }
  assert.equal(perKey.size, keys);
  for (const [key, seqs] of perKey) {
    const expected = inputs.filter((i) => i.key === key).map((i) => i.value.seq);
    assert.deepEqual(seqs, expected, `order of ${key}`);
  }
  assert.equal(summary.processors.second.processed, n);
  assert.equal(summary.processors.first.retries, Math.ceil(n / 13));
});
