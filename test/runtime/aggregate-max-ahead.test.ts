import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './harness.js';

// One record stamped in the year 9999 (a wrong clock, a corrupt field)
// through two windowed aggregate steps, real workers: without a limit it
// moves its key's stream time to 9999, closing the open window early and
// making every later record of the key late; with `maxAhead: 1h` it is
// dead-lettered with the reason and the records after it count.

const topology = `
app: ahead
stateDir: \${STATE_DIR}
workers: 2
sources:
  readings: { topic: readings }
stores:
  guarded: { fsync: never }
  open: { fsync: never }
processors:
  guarded:
    input: readings
    deadLetter: guarded.dlq
    aggregate: { store: guarded, op: count, window: { tumbling: 1m, time: { field: ts }, maxAhead: 1h } }
  open:
    input: readings
    deadLetter: open.dlq
    aggregate: { store: open, op: count, window: { tumbling: 1m, time: { field: ts } } }
sinks:
  guarded: { topic: guarded.out, input: guarded }
  open: { topic: open.out, input: open }
`;

test('maxAhead: a record stamped in the year 9999 is dead-lettered with the reason, and the records after it still count', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  // Ten minutes ago, on a minute boundary: every reading but the poisoned one is in the past.
  const base = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
  const ts = (ms: number) => new Date(ms).toISOString();
  await h.produce('readings', [
    { key: 'a', value: { ts: ts(base + 1_000) } },
    { key: 'a', value: { ts: ts(base + 2_000) } },
    { key: 'a', value: { ts: '9999-01-01T00:00:00Z' } },
    { key: 'a', value: { ts: ts(base + 3_000) } },
    { key: 'a', value: { ts: ts(base + 3 * 60_000) } }, // closes [base, base + 1m)
  ]);
  const summary = await h.run(topology);

  const windows = async (topic: string) => (await h.drain(topic)).map((r) => {
    const v = r.value as { count: number; window: { start: string } };
    return [Date.parse(v.window.start) === base ? 'base' : v.window.start, v.count];
  });
  assert.deepEqual(await windows('guarded.out'), [['base', 3]], 'the window of the three readings closes with all three');
  const guardedDlq = await h.drainEntries('guarded.dlq');
  assert.equal(guardedDlq.length, 1);
  assert.match(guardedDlq[0]!, /event time 9999-01-01T00:00:00\.000Z is [\d.]+ years ahead of this host's clock .*more than the 3600000 ms allowed \(maxAhead\)/);

  // Without the limit: the poisoned reading closes the window with two readings, and the two after it are late.
  assert.deepEqual(await windows('open.out'), [['base', 2]]);
  assert.deepEqual((await h.drainEntries('open.dlq')).map((e) => /LATE_RECORD/.exec(e)?.[0] ?? e), ['LATE_RECORD', 'LATE_RECORD']);
  assert.deepEqual([summary.processors.guarded!.deadLettered, summary.processors.open!.deadLettered], [1, 2]);
});
