import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { decodeEntry } from '../../src/codec/index.js';
import { harness } from './harness.js';

// An output that leaves its stage group crosses the coordinator as bytes. One that cannot be packed (a symbol, a
// cycle) must fail its member on that record like an output its sink cannot serialise: before any output of that
// member on that record is written or counted, so the record ends only in the dead letters, and the counts are exact.
test('an output that cannot cross to the next stage group (a symbol, a cycle) fails its member on that record only: dead-lettered as SERIALIZATION_ERROR naming the member, none of its outputs written, counts exact', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const bad: Record<number, 'symbol' | 'cycle'> = { 3: 'symbol', 7: 'cycle' };
  await h.produce('in', Array.from({ length: 12 }, (_, n) => ({ value: { n, k: `c${n % 4}`, ...(bad[n] ? { bad: bad[n] } : {}) } })), 1);
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in }
processors:
  a: { module: ./unsendable.ts, input: in, rekey: true, deadLetter: in.dead, retry: { attempts: 3, initialDelay: 1ms } }
  b: { module: ./echo.js, input: a, ordering: key }
sinks:
  raw: { topic: raw, input: a }
  out: { topic: out, input: b }
observability: { logLevel: silent }
`);
  const good = [0, 1, 2, 4, 5, 6, 8, 9, 10, 11];
  const ns = (records: Array<{ value: unknown }>) => records.map((r) => (r.value as { n: number }).n).sort((x, y) => x - y);
  assert.deepEqual(ns(await h.drain('raw')), good, 'the sink beside the exit got nothing of the failed records (JSON alone would have written the symbol one)');
  assert.deepEqual(ns(await h.drain('out')), good);
  const dead = (await h.drainEntries('in.dead')).map(parseDeadLetter);
  assert.deepEqual(dead.map((d) => (JSON.parse(decodeEntry(d.original)[0]!.value.toString()) as { n: number }).n).sort((x, y) => x - y), [3, 7]);
  for (const d of dead) {
    assert.equal(d.processor, 'a');
    assert.equal(d.error.code, 'SERIALIZATION_ERROR');
    assert.equal(d.attempts, 1, 'not retried: it can never succeed');
    assert.match(d.error.message, /processor "a" produced an output \(#1, "default"\) that cannot be passed to another thread/);
  }
  assert.equal(summary.processors.a!.processed, good.length, 'a failed record is not counted processed');
  assert.equal(summary.processors.a!.emitted, good.length);
  assert.equal(summary.processors.a!.deadLettered, 2);
  assert.equal(summary.processors.b!.processed, good.length);
  assert.equal(summary.inFlight, 0);
});
