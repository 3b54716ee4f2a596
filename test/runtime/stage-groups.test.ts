// run-tests: own process: long (20 s or more on 2 cores): started with the first, not last
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { MetricsHub } from '../../src/observability/index.js';
import { decodeEntry } from '../../src/codec/index.js';
import { harness, type Harness } from './harness.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

/** A three-step chain a → b → c of trail.ts in one stage group (one source, key ordering kept by the group). */
const chain = (extra = '', ordering = 'unordered', workers = 2) => `
app: t
stateDir: \${STATE_DIR}
workers: ${workers}
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  a: { module: ./trail.ts, input: in, batchSize: 16, ordering: ${ordering}, deadLetter: in.dead, retry: { attempts: 3, initialDelay: 1ms, maxDelay: 5ms } }
  b: { module: ./trail.ts, input: a, ordering: ${ordering}, deadLetter: in.dead, retry: { attempts: 3, initialDelay: 1ms, maxDelay: 5ms } }
  c: { module: ./trail.ts, input: b, ordering: ${ordering}, deadLetter: in.dead ${extra} }
sinks:
  out: { topic: out, input: c }
observability: { logLevel: silent }
`;

type Out = { seq: number; trail: string[] };
const bySeq = (out: Array<{ value: unknown }>) => out.map((r) => r.value as Out).sort((x, y) => x.seq - y.seq);

test('a retry inside a stage group re-runs only the failing processor, with the input it had', async () => {
  const n = 60;
  await h.produce('in', Array.from({ length: n }, (_, i) => ({ key: `k${i % 7}`, value: { seq: i, ...(i % 5 === 0 ? { failAt: 'b' } : {}) } })), 4);
  const summary = await h.run(chain());
  const out = bySeq(await h.drain('out'));
  assert.equal(out.length, n);
  for (const v of out) assert.deepEqual(v.trail, ['a1', v.seq % 5 === 0 ? 'b2' : 'b1', 'c1'], `record ${v.seq}`);
  assert.deepEqual([summary.processors.a.processed, summary.processors.b.processed, summary.processors.c.processed], [n, n, n]);
  assert.deepEqual([summary.processors.a.retries, summary.processors.b.retries, summary.processors.c.retries], [0, n / 5, 0]);
});

test('a record that fails for good inside a group is dead-lettered naming that processor, with the original source entry', async () => {
  await h.produce('in', Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: { seq: i, ...(i === 7 ? { fatalAt: 'b' } : {}) } })), 1);
  const summary = await h.run(chain());
  const out = bySeq(await h.drain('out'));
  assert.deepEqual(out.map((v) => v.seq), Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 7));
  const dead = (await h.drainEntries('in.dead')).map(parseDeadLetter);
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.processor, 'b');
  assert.equal(dead[0]!.error.code, 'NON_RETRIABLE');
  assert.match(dead[0]!.error.message, /record 7 is refused by b/);
  assert.equal(dead[0]!.sourceTopic, 'in');
  // The original entry, as it was read: the source record, not a's output (no trail).
  const [original] = decodeEntry(Buffer.from(dead[0]!.entry));
  assert.deepEqual(JSON.parse(Buffer.from(original!.value).toString()), { seq: 7, fatalAt: 'b' });
  assert.equal(summary.processors.b.deadLettered, 1);
  assert.deepEqual([summary.processors.a.processed, summary.processors.b.processed, summary.processors.c.processed], [20, 19, 19]);
});

test('a thread that dies inside a group: the culprit processor is found, its record dead-lettered, the 15 neighbours come out once', { timeout: 60_000 }, async () => {
  await h.produce('in', Array.from({ length: 16 }, (_, i) => ({ key: `k${i}`, value: { seq: i, ...(i === 9 ? { crashAt: 'b' } : {}) } })), 16);
  const summary = await h.run(chain('', 'unordered', 1));
  const out = bySeq(await h.drain('out'));
  assert.deepEqual(out.map((v) => v.seq), Array.from({ length: 16 }, (_, i) => i).filter((i) => i !== 9));
  for (const v of out) assert.deepEqual(v.trail, ['a1', 'b1', 'c1'], `record ${v.seq} was charged an attempt for its neighbour`);
  const dead = (await h.drainEntries('in.dead')).map(parseDeadLetter);
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.processor, 'b');
  assert.equal(dead[0]!.error.code, 'WORKER_CRASHED');
  assert.equal(summary.inFlight, 0);
});

for (const [kind, how] of [['hangAt', 'never settles, ignoring ctx.signal'], ['spinAt', 'blocks its thread']] as const) {
  test(`a fused processor that ${how} is held to its own timeout, not the group's (its members' timeouts added up: 60.2 s here)`, { timeout: 45_000 }, async () => {
    await h.produce('in', Array.from({ length: 16 }, (_, i) => ({ key: `k${i}`, value: { seq: i, ...(i === 9 ? { [kind]: 'b' } : {}) } })), 16);
    const started = Date.now();
    // a and c keep the default 30 s timeout; b has 200 ms.
    const summary = await h.run(chain('', 'unordered', 1).replace('  b: { module: ./trail.ts,', '  b: { module: ./trail.ts, timeout: 200ms,')
      .replace('observability:', 'workerPool: { timeoutGrace: 100ms }\nobservability:'));
    const elapsed = Date.now() - started;
    const out = bySeq(await h.drain('out'));
    assert.deepEqual(out.map((v) => v.seq), Array.from({ length: 16 }, (_, i) => i).filter((i) => i !== 9));
    for (const v of out) assert.deepEqual(v.trail, ['a1', 'b1', 'c1'], `record ${v.seq} was charged an attempt for its neighbour`);
    const dead = (await h.drainEntries('in.dead')).map(parseDeadLetter);
    assert.deepEqual(dead.map((d) => [d.processor, d.error.code]), [['b', 'PROCESSOR_TIMEOUT']]);
    assert.match(dead[0]!.error.message, /processor "b" did not return within its timeout of 200 ms plus a grace of 100 ms/);
    assert.deepEqual([summary.processors.a!.processed, summary.processors.b!.processed, summary.processors.c!.processed], [16, 15, 15]);
    // Each of b's 3 attempts ends 300 ms after it starts, plus a thread restart; the group's deadline would take 60.3 s for the first alone.
    assert.ok(elapsed < 30_000, `took ${elapsed} ms`);
  });
}

test('per-key order holds through a keyed group, with retries in the middle and an undeclared re-key that sends records back to the coordinator', async () => {
  const n = 300;
  const inputs = Array.from({ length: n }, (_, i) => ({ key: `k${i % 11}`, value: { seq: i, rekeyAt: 'a', ...(i % 9 === 0 ? { failAt: 'b' } : {}) } }));
  await h.produce('in', inputs, 5);
  const summary = await h.run(chain('', 'key'));
  const out = await h.drain('out');
  assert.equal(out.length, n);
  // After `a` every record is keyed r0/r1/r2 (seq % 3): b and c saw each new key's records in the order a emitted them,
  // which for one source key is input order; across source keys only per-new-key order within each source key can be asserted.
  const seen = new Map<string, number[]>();
  for (const r of out) {
    const v = r.value as Out;
    assert.equal(r.key, `r${v.seq % 3}`);
    const from = `k${v.seq % 11}|r${v.seq % 3}`;
    seen.set(from, [...(seen.get(from) ?? []), v.seq]);
  }
  for (const [pair, seqs] of seen) assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `order of ${pair}`);
  assert.equal(summary.processors.b.retries, Math.ceil(n / 9));
  assert.equal(summary.processors.c.processed, n);
});

test('a stateful step fused behind a key-preserving step: exact state per key, counts and /metrics per processor', async () => {
  const n = 200;
  const keys = 13;
  await h.produce('in', Array.from({ length: n }, (_, i) => ({ key: `k${i % keys}`, value: { seq: i, amount: i, i } })), 7);
  const metrics = new MetricsHub();
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  a: { module: ./trail.ts, input: in, ordering: key }
  count: { module: ./state-count.ts, input: a, ordering: key, stores: [totals] }
sinks:
  out: { topic: out, input: count }
stores:
  totals: {}
observability: { logLevel: silent }
`, { metrics });
  const out = (await h.drain('out')).map((r) => r.value as { key: string; n: number; sum: number; i: number });
  assert.equal(out.length, n);
  for (let k = 0; k < keys; k++) {
    const mine = out.filter((o) => o.key === `k${k}`);
    const inputs = Array.from({ length: n }, (_, i) => i).filter((i) => i % keys === k);
    // Running count and sum, in input order: 1, 2, 3, ... with the prefix sums of the amounts.
    assert.deepEqual(mine.map((o) => o.i), inputs, `order of k${k}`);
    let sum = 0;
    assert.deepEqual(mine.map((o) => [o.n, o.sum]), inputs.map((i, j) => [j + 1, (sum += i)]), `state of k${k}`);
  }
  assert.deepEqual([summary.processors.a.processed, summary.processors.count.processed], [n, n]);
  const text = await metrics.metrics();
  for (const p of ['a', 'count']) assert.match(text, new RegExp(`walrus_stream_records_processed_total\\{processor="${p}",outcome="ok"\\} ${n}`));
});
