import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { decodeEntry } from '../../src/codec/index.js';
import { harness } from '../runtime/harness.js';

/**
 * Attack: envelope entries whose records carry a timestamp that is not an
 * integer number of ms in a Date's range. Before the fix the decoder let
 * `t + dt` through whatever it was; packing the pass-through output for the
 * envelope sink then threw inside the worker, outside the per-record guard,
 * which killed the thread — 20 in a row ended the run (WORKER_CRASHED), and
 * every restart replayed the journal into the same crash loop.
 */

const packr = new Packr({ useRecords: false, moreTypes: false });
const T = Date.UTC(2026, 0, 1);
const entry = (t: number, dt: number, n: number) =>
  `ws1:${packr.pack({ v: 1, t, r: [[Buffer.alloc(16, n), dt, Buffer.from(JSON.stringify({ n })), `k${n}`]] }).toString('base64url')}`;

const PASS = (deadLetter: string, module = './echo.js') => `
app: t
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: in }
processors:
  pass: { module: ${module}, input: in, deadLetter: ${deadLetter}, retry: { attempts: 2, initialDelay: 1ms } }
sinks:
  out: { topic: out, input: pass }
observability: { logLevel: silent }
`;

test('entries with a non-integer, NaN, huge or out-of-range timestamp are dead-lettered whole by the decoder, naming the record and field; the entries around them pass, no worker dies', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const bad: Array<[number, number]> = [
    ...Array.from({ length: 20 }, (): [number, number] => [T, 0.5]),
    [T, Number.NaN], [T, 1e300], [Number.MAX_SAFE_INTEGER, 0], [T, -2 * T - 8.64e15],
  ];
  await h.client.register('in');
  await h.client.putMany('in', [entry(T, 0, 0), ...bad.map(([ts, dt], i) => entry(ts, dt, 100 + i)), entry(T, 0, 1)]);
  const summary = await h.run(PASS('in.dead'));
  const out = await h.drain('out');
  assert.deepEqual(out.map((r) => (r.value as { n: number }).n).sort(), [0, 1]);
  const dead = (await h.drainEntries('in.dead')).map(parseDeadLetter);
  assert.equal(dead.length, bad.length);
  for (const d of dead) {
    assert.equal(d.processor, '(decode)');
    assert.equal(d.error.code, 'DESERIALIZATION_ERROR');
    assert.match(d.error.message, /record 0 has timestamp t \+ dt = .* not an integer number of milliseconds within ±8640000000000000/);
    assert.throws(() => decodeEntry(d.original), /record 0 has timestamp/, 'the dead letter keeps the entry as it was');
  }
  assert.equal(summary.processors.pass!.processed, 2);
  assert.equal(summary.processors.pass!.retries, 0, 'nothing was retried: no worker crashed');
  assert.equal(summary.inFlight, 0);
});

test('a processor that sets a bad timestamp on the record its output inherits fails on that record only: dead-lettered naming the processor and the timestamp, never a dead worker', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const values = Array.from({ length: 30 }, (_, n) => ({ value: n % 3 === 1 ? { n, ts: [T + 0.5, Number.NaN, 9e15, -9e15, 1e300][n % 5] } : { n } }));
  await h.produce('in', values, 1);
  const summary = await h.run(PASS('in.dead', './stamp.ts'));
  const good = values.filter((v) => !('ts' in v.value)).map((v) => v.value.n);
  assert.deepEqual((await h.drain('out')).map((r) => (r.value as { n: number }).n).sort((a, b) => a - b), good);
  const dead = (await h.drainEntries('in.dead')).map(parseDeadLetter);
  assert.equal(dead.length, values.length - good.length);
  for (const d of dead) {
    assert.equal(d.processor, 'pass');
    assert.equal(d.error.code, 'INVALID_ARGUMENT');
    // A record's fields are read-only: the assignment itself fails the record, before any output inherits the timestamp.
    assert.match(d.error.message, /^processor "pass" assigned record\.timestamp of its input record .*; a record's fields are read-only/);
    assert.equal(d.attempts, 1, 'not retried: it would fail the same way');
  }
  assert.equal(summary.processors.pass!.processed, good.length);
  assert.equal(summary.processors.pass!.deadLettered, values.length - good.length);
  assert.equal(summary.processors.pass!.retries, 0, 'nothing was retried: no worker crashed');
  assert.equal(summary.inFlight, 0);
});
