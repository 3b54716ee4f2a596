import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { harness, type Harness } from './harness.js';
import { cli, expectedTotals, instanceTotals, orders, sorted, writeTopology } from './partitioned-state-helpers.js';

// docs/scaling.md, "A partition that ran elsewhere meanwhile": an instance killed with records committed to
// its stores but not released from its journal, replaced on another stateDir, then started again on its own.
// Its journal still holds those records; the restore it makes (its claim was taken) must know they were
// applied, though the replacement re-published the state in between. Real processes, the node in this one.
//
// B reads a topic of its own (more orders of the same customers): the batch A had journalled but whose lease
// ACK had not reached the node when it died goes back to its topic, and a replacement reading that topic would
// count it while A's journal still holds it (a separate gap, docs/scaling.md); here A reads it again itself
// and drops it as a redelivered copy.

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const KEYS = 40;

test('an instance killed between its commits and their release, replaced on another stateDir, then started again on its own: every record counted exactly once', { timeout: 90_000 }, async () => {
  const lines = orders(KEYS, 0, 20); // 800 records for A
  const more = orders(KEYS, 20, 30); // 400 for B, of the same customers
  // Two records an entry, so the instance has many entries to commit and dies among them.
  for (let p = 0; p < 4; p += 1) {
    await h.produce(`reapply-in.p${p}`, lines.filter((l) => partitionOfKey(l.k, 4) === p).map((l) => ({ key: l.k, value: l })), 2);
    await h.produce(`reapply-b-in.p${p}`, more.filter((l) => partitionOfKey(l.k, 4) === p).map((l) => ({ key: l.k, value: l })), 2);
  }
  const [dirA, dirB] = [join(h.stateDir, 'a'), join(h.stateDir, 'b')];
  const [fileA, fileB] = [join(h.stateDir, 'a.yaml'), join(h.stateDir, 'b.yaml')];
  await writeTopology(fileA, 'reapply', dirA, 'reapply-in');
  await writeTopology(fileB, 'reapply', dirB, 'reapply-b-in');
  const run = (file: string, env: Record<string, string> = {}) => cli(['run', file, '--nodes', h.broker.address, '--until-idle'], { env });

  // A: killed right after the third entry's changes are committed, before that entry is released.
  const killed = await run(fileA, { WALRUS_STREAM_FAULT: 'state.committed:3' });
  assert.equal(killed.signal, 'SIGKILL', `A was killed: ${killed.stderr}`);
  assert.match(killed.stderr, /WALRUS_STREAM_FAULT: SIGKILL at state\.committed/);
  const counted = [...(await instanceTotals(dirA, 'reapply')).values()].reduce((a, t) => a + t.n, 0);
  assert.ok(counted > 0 && counted < lines.length, `A committed some records and not all before it died (${counted})`);

  // B, on another stateDir: takes every partition over (restores A's changelogs, re-publishes them) and counts its orders.
  const replacement = await run(fileB);
  assert.equal(replacement.code, 0, replacement.stderr);
  const inB = [...(await instanceTotals(dirB, 'reapply')).values()].reduce((a, t) => a + t.n, 0);
  // What A had published to the changelogs came to B (not what its log held unpublished when it died: A's journal redoes that).
  assert.ok(inB > more.length && inB <= counted + more.length, `B restored part of A's counts and counted its own records (${inB}; A ${counted})`);

  // A again, on its own stateDir: B claimed its partitions since, so it restores them, then finishes its journal.
  const back = await run(fileA);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stderr, /ran elsewhere since/, 'A saw that its partitions ran elsewhere and restored them');
  const final = await instanceTotals(dirA, 'reapply');
  const extra = [...final.values()].reduce((a, t) => a + t.n, 0) - lines.length - more.length;
  assert.equal(extra, 0, `${extra} extra counts over ${lines.length + more.length} records (A had committed ${counted} before it was killed)`);
  assert.deepEqual(sorted(final), sorted(expectedTotals([...lines, ...more])), 'every record counted exactly once');
});
