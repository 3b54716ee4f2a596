import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from '../runtime/harness.js';
import { preloadStats } from '../../src/runtime/wire/preload-blob.js';
import { REMOTE_AFTER, REMOTE_ENDS } from '../../src/runtime/wire/state-reads.js';
import { stateReadStats } from '../../src/runtime/pool/state-read-server.js';

// docs/state.md, "What open windows cost": a key with more than REMOTE_AFTER entries does not ship them with
// each record; the worker reads the few its record touches from the coordinator. Through real workers and the
// embedded node, with key runs (several records of a key in one task: the later ones read through the earlier
// ones' writes), windows closing as records come (range reads) and records landing in a window in the middle of
// the open ones (read from the coordinator: a task carries only both ends): the results must be exact.

const GRACE = 1_500;
const topology = `
app: remote-reads
stateDir: \${STATE_DIR}
workers: 2
sources:
  readings: { topic: readings }
processors:
  count:
    module: ./state-windows-many.ts
    input: readings
    ordering: key
    stores: [counts]
    config: { graceMs: ${GRACE} }
sinks:
  closed: { topic: closed.out, input: count }
stores:
  counts: { fsync: never }
`;

test('a key with thousands of open windows: its records do not carry them, and every window is counted exactly', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  // Two keys; two records per 1 ms window, 3,000 windows each: ~1,500 open at a time per key (the grace). Now and
  // then one more record 700 ms back: within grace, in a window in the middle of the key's open ones.
  const windows = 3_000;
  const input: Array<{ key: string; value: { ts: number } }> = [];
  const extra = new Map<number, number>();
  for (let i = 0; i < windows * 2; i++) {
    for (const key of ['a', 'b']) input.push({ key, value: { ts: Math.floor(i / 2) } });
    if (i % 250 === 1 && i / 2 > 700) {
      const ts = Math.floor(i / 2) - 700;
      for (const key of ['a', 'b']) input.push({ key, value: { ts } });
      extra.set(ts, (extra.get(ts) ?? 0) + 1);
    }
  }
  await h.produce('readings', input, 50);
  const before = { ...preloadStats };
  const answeredBefore = stateReadStats.answered;

  const summary = await h.run(topology);
  assert.equal(summary.processors.count.processed, input.length);
  assert.equal(summary.processors.count.deadLettered, 0);

  // Exact: every window that closed counted both of its records, was emitted once, in order per key.
  const closed = (await h.drain('closed.out')).map((r) => r.value as { key: string; start: number; value: number });
  const lastClosed = windows - 1 - GRACE - 1; // stream time (windows - 1) closes each window [s, s + 1) with s + 1 + grace <= it
  for (const key of ['a', 'b']) {
    const mine = closed.filter((w) => w.key === key);
    assert.deepEqual(mine.map((w) => w.start), Array.from({ length: lastClosed + 1 }, (_, s) => s), `windows of ${key} closed once each, in order`);
    const wrong = mine.filter((w) => w.value !== 2 + (extra.get(w.start) ?? 0));
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} windows of ${key} did not count each of their records`);
  }

  // What crossed: no task carried more than REMOTE_AFTER entries of a key; past that, a handle and both ends.
  assert.ok(preloadStats.mostShipped <= REMOTE_AFTER, `a task carried ${preloadStats.mostShipped} entries of one key`);
  const byHandle = preloadStats.byHandle - before.byHandle;
  assert.ok(byHandle > 0, 'the keys past the limit were read on demand');
  // Before: every record after the first ~1,000 carried ~1,500 entries (~13 M in all); now at most the first ones'.
  const shipped = preloadStats.entriesShipped - before.entriesShipped;
  assert.ok(shipped < REMOTE_AFTER * REMOTE_AFTER + byHandle * 2 * REMOTE_ENDS, `${shipped} entries shipped with tasks`);
  // Reads from the coordinator: the records in the middle of the open windows, not every record.
  const answered = stateReadStats.answered - answeredBefore;
  t.diagnostic(`${input.length} records; ${byHandle} preloads by handle; ${shipped} entries shipped; ${answered} reads answered by the coordinator`);
  assert.ok(answered >= extra.size, `${answered} reads answered by the coordinator for ${extra.size * 2} records in the middle`);
  assert.ok(answered < input.length / 20, `${answered} reads answered for ${input.length} records`);
});
