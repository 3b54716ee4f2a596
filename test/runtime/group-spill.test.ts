import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { harness } from './harness.js';
import { SPILL_AFTER } from '../../src/runtime/wire/messages.js';

// Inside a fused stage group outputs multiply member by member, and a task
// holds all it derives until it returns. Past SPILL_AFTER derived records a
// task sends the steps it has not run back to the coordinator, which resumes
// them in the same group under the key the record holds (docs/pipeline.md,
// "Fan-out inside a group"). These runs cross that budget on purpose: every
// guarantee must hold across the spill.

type Line = { level: number; msg: string; group?: string };
const capture = (lines: Line[]) => pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk)) as Line); done(); } }));
const spillLines = (lines: Line[]) => lines.filter((l) => /derived more than .* records/.test(l.msg));

test('unordered fan-out multiplying across three fused members (2 × 200 × 200 = 80,000 records) spills and still writes every record exactly once, with exact counts', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  assert.ok(80_000 > SPILL_AFTER);
  await h.produce('spill.in', [{ value: { i: 0 } }, { value: { i: 1 } }]);
  const lines: Line[] = [];
  const summary = await h.run(`
app: spill
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: spill.in }
processors:
  a: { module: ./fanout.ts, input: in, config: { n: 200 } }
  b: { module: ./fanout.ts, input: a, config: { n: 200 } }
sinks:
  out: { topic: spill.out, input: b }
`, { logger: capture(lines) });
  assert.deepEqual([summary.processors.a!.processed, summary.processors.a!.emitted], [2, 400]);
  assert.deepEqual([summary.processors.b!.processed, summary.processors.b!.emitted], [400, 80_000]);
  assert.equal(summary.sinks.out!.records, 80_000);
  const out = await h.drain('spill.out');
  assert.equal(out.length, 80_000);
  assert.equal(new Set(out.map((r) => r.id)).size, 80_000, 'no record written twice (ids derive from the path, so a duplicate repeats one)');
  const perInput = [0, 0];
  for (const r of out) perInput[(r.value as { i: number }).i]! += 1;
  assert.deepEqual(perInput, [40_000, 40_000]);
  const spills = spillLines(lines);
  assert.equal(spills.length, 1, 'the spill is logged once for the group');
  assert.equal(spills[0]!.group, 'a');
  assert.equal(lines.filter((l) => /changed a record's key/.test(l.msg)).length, 0, 'a spill is not a re-key');
});

test('key ordering with state across a spill: runs of one key, a fan-out of 3,000 per record into a stateful counter — per-key order and exactly-once counts hold, followers of a spilled record are deferred', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const KEYS = 4;
  const PER_KEY = 3;
  const FAN = 3_000;
  assert.ok(KEYS * PER_KEY * FAN * 2 > SPILL_AFTER);
  // One entry: the batch holds every record, each key's three as a run.
  await h.produce('spillk.in', Array.from({ length: KEYS * PER_KEY }, (_, i) => ({ key: `k${i % KEYS}`, value: { i } })), KEYS * PER_KEY);
  const lines: Line[] = [];
  const summary = await h.run(`
app: spillk
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: spillk.in }
processors:
  fan: { module: ./fanout.ts, input: in, ordering: key, config: { n: ${FAN} } }
  count: { module: ./seq-count.ts, input: fan, ordering: key, stores: [counts] }
sinks:
  out: { topic: spillk.out, input: count }
stores:
  counts: { fsync: never }
`, { logger: capture(lines) });
  assert.equal(summary.processors.fan!.processed, KEYS * PER_KEY);
  assert.deepEqual(lines.filter((l) => l.level >= 40), [], 'no warning: no state refused as stale, nothing dead-lettered');
  assert.deepEqual([summary.processors.count!.retries, summary.processors.count!.deadLettered], [0, 0]);
  assert.equal(summary.processors.count!.processed, KEYS * PER_KEY * FAN);
  const out = (await h.drain('spillk.out')).map((r) => r.value as { key: string; n: number; i: number; j: number });
  assert.equal(out.length, KEYS * PER_KEY * FAN);
  for (let k = 0; k < KEYS; k++) {
    const mine = out.filter((r) => r.key === `k${k}`).sort((x, y) => x.n - y.n);
    assert.deepEqual(mine.map((r) => r.n), Array.from({ length: PER_KEY * FAN }, (_, n) => n + 1), `k${k}: each count once, none skipped`);
    // The count's order is the order the key's records ran in: source order, then emit order.
    const expected = Array.from({ length: PER_KEY * FAN }, (_, n) => [k + KEYS * Math.floor(n / FAN), n % FAN]);
    assert.deepEqual(mine.map((r) => [r.i, r.j]), expected, `k${k}: records ran in source order, each record's outputs in emit order`);
  }
  assert.equal(spillLines(lines).length, 1);
});

test('a worker that dies twice under a spilled chain\'s continuation: the retry runs the remaining steps, not the record from its entry — every record written exactly once', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const FAN = 40_000;
  assert.ok(FAN > SPILL_AFTER, 'the fan-out alone passes the budget: every step after it is spilled');
  await h.produce('spillc.in', [{ value: { i: 0 } }]);
  const marker = join(h.stateDir, 'crashes');
  const summary = await h.run(`
app: spillc
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: spillc.in }
processors:
  fan: { module: ./fanout.ts, input: in, config: { n: ${FAN} }, retry: { attempts: 3, initialDelay: 1ms, maxDelay: 2ms } }
  pass: { module: ./crash-at.ts, input: fan, config: { marker: ${JSON.stringify(marker)}, at: ${FAN - 1_000}, times: 2 } }
sinks:
  out: { topic: spillc.out, input: pass }
`);
  assert.equal((await readFile(marker, 'utf8')).length, 2, 'the worker died twice');
  assert.equal(summary.processors.fan!.deadLettered + summary.processors.pass!.deadLettered, 0);
  assert.equal(summary.processors.fan!.processed, 1, 'the retry did not run the fan-out again');
  const out = await h.drain('spillc.out');
  assert.equal(out.length, FAN);
  assert.equal(new Set(out.map((r) => r.id)).size, FAN, 'no record written twice');
});
