import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyValueStore, WorkerStateContext, fromField, tumbling, windowedAggregate, type StagedChange, type StatePreload } from '../../src/state/index.js';
import { foldWrites, preloadChecks } from '../../src/state/worker/worker-state.js';
import { packEntries, unpackEntries } from '../../src/runtime/wire/preload-blob.js';
import { tempDir } from './helpers.js';

// docs/state.md, "What open windows cost": a key's open windows are many with a tiny window and a long grace
// (1 ms windows, 24 h grace: one per record). What the runtime does per record of such a key must not grow
// with them: the coordinator orders the record's staged change after the uncommitted changes of its key (not
// after a look at each of the key's entries), and a worker given the key's entries, or a key run's folded
// ones, does not compare every entry again to check their order, and neither side copies them per record.
// Counted, not timed.

const GRACE = 24 * 60 * 60 * 1000;
const RUN = 8;

/** `n` records of key `k`, each at its own ms, the way the runtime runs them: a preload per run of RUN records, folded in the worker, staged at once, committed in groups. */
async function runRecords(store: KeyValueStore, n: number, from: number): Promise<{ checks: number[]; compared: number[]; copied: number[]; workerCopied: number[] }> {
  const checks: number[] = [];
  const compared: number[] = [];
  const copied: number[] = [];
  const workerCopied: number[] = [];
  let pending: StagedChange[] = [];
  for (let i = from; i < from + n; i += RUN) {
    // What a task carries: the key's entries as the coordinator has them, through the wire blob.
    const sent = store.preload('k');
    let entries: StatePreload['entries'] = unpackEntries(packEntries(sent));
    for (let j = i; j < i + RUN; j++) {
      const beforeCompared = preloadChecks.keysCompared;
      const beforeWorkerCopied = preloadChecks.entriesCopied;
      const state = new WorkerStateContext('k', [{ store: 'w', entries }]);
      const step = windowedAggregate(state.store('w'), { key: 'k', value: { ts: j }, headers: {}, timestamp: 0 }, {
        windows: tumbling(1), graceMs: GRACE, eventTime: fromField('ts'), init: () => 0, aggregate: (n: number) => n + 1,
      });
      assert.equal(step.late, false);
      const [writes] = state.collect();
      compared.push(preloadChecks.keysCompared - beforeCompared);
      const before = store.stats();
      // The first of a run is checked against its preload; the others ran on the state the one before left (the
      // runtime sends them no preload of their own: stage-runner.ts).
      pending.push(store.stage(store.prepareWire(writes!.writes, 'k', j === i ? sent : undefined), [`r${j}`]));
      checks.push(store.stats().dependencyChecks - before.dependencyChecks);
      copied.push(store.stats().preloadEntriesCopied - before.preloadEntriesCopied);
      // The next record of the run gets this one's writes folded in (stage-chain.ts).
      entries = foldWrites(entries, writes!.writes);
      workerCopied.push(preloadChecks.entriesCopied - beforeWorkerCopied);
    }
    if (pending.length >= 4 * RUN) { await store.commitAll(pending); pending = []; }
  }
  await store.commitAll(pending);
  return { checks, compared, copied, workerCopied };
}

const max = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), 0);

test('a record of a key with thousands of open windows: staging looks at the key\'s uncommitted changes only, and the worker does not re-check the entries\' order', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 'w', fsync: 'never' });
  t.after(() => store.close());

  const early = await runRecords(store, 64, 0);
  await runRecords(store, 3_000, 64);
  const late = await runRecords(store, 64, 3_064);
  assert.equal(store.range({ prefix: 'k@' }).length, 3_128 + 1, 'every window open, and the key\'s stream time');

  // At most the changes still uncommitted (a group of 4 runs) and nothing per open window: the same with 3,000
  // windows as with none. Before, every entry of the preload was looked at: 3,000+ per record.
  assert.ok(max(late.checks) <= 4 * RUN + 2, `staging looked at ${max(late.checks)} entries/changes for one record (first records: ${max(early.checks)})`);
  assert.ok(max(late.checks) <= max(early.checks) + 2, `grew from ${max(early.checks)} to ${max(late.checks)}`);
  // A preload is checked once as it is decoded; a record given it (or a folded one) compares nothing. Before: 3,000 a record.
  assert.equal(max(late.compared), 0, `a record compared ${max(late.compared)} keys`);
  // The key's entries are not copied on the coordinator: the view a preload handed out stays unchanged while its
  // task holds it, and is updated in place once the task's result was checked against it (MemoryState.returnView).
  // Before: 3,000+ copied per record, then once per run. A worker folds a run's writes into the list it decoded.
  assert.equal(max(late.copied), 0, `records copied the key's entries on the coordinator (${late.copied.join(' ')})`);
  assert.equal(max(late.workerCopied), 0, `a worker record copied ${max(late.workerCopied)} entries`);

  // And the result is exact: one record per window, stream time the last event time.
  assert.deepEqual(store.get('k@0000000000003127'), 1);
  assert.equal(store.get('k@~stream-time'), 3_127);
  assert.equal(store.stats().staged, 0);
});

test('ordering by the key\'s uncommitted changes: a change computed from the preload still commits after each change it saw', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 's', fsync: 'never' });
  t.after(() => store.close());
  const b = (n: number) => new Uint8Array([n]);
  // Enough entries that staging goes by the key's pending changes, not entry by entry (TRACK_AFTER).
  const filler = store.changeSet('k');
  for (let i = 0; i < 40; i++) filler.put(`k@f${String(i).padStart(2, '0')}`, i);
  await store.commit(filler);
  const seq0 = store.seq;
  const a = store.stage(store.prepareWire([['k@1', b(1)]], 'k', store.preload('k')), ['a']);
  const other = store.stage(store.prepareWire([['j@1', b(9)]], 'j', store.preload('j')), ['o']);
  const c = store.stage(store.prepareWire([['k@2', b(2)]], 'k', store.preload('k')), ['c']);
  const d = store.stage(store.prepareWire([['k@1', b(3)], ['k@3', b(3)]], 'k', store.preload('k')), ['d']);
  assert.deepEqual(c.deps, [a], 'what k\'s preload held uncommitted: a, not the change of key j');
  assert.deepEqual(new Set(d.deps), new Set([a, c]));
  // d overwrote a's only key; a later change depends on c and d (and may on a: an earlier change of k), never on j's.
  const e = store.stage(store.prepareWire([], 'k', store.preload('k')), ['e']);
  assert.ok(e.deps.includes(c) && e.deps.includes(d) && !e.deps.includes(other), 'e depends on c and d, not on j\'s change');
  // The key's own entry counts too.
  const f = store.stage(store.prepareWire([['k', b(8)]], 'k', store.preload('k')), ['f']);
  const g = store.stage(store.prepareWire([], 'k', store.preload('k')), ['g']);
  assert.ok(g.deps.includes(f), 'a change to the key itself is a dependency');
  // A record of key k@x writes k@x@y, which k's entries include: a later change of k depends on it.
  const nested = store.stage(store.prepareWire([['k@x@y', b(4)]], 'k@x', store.preload('k@x')), ['n']);
  const h = store.stage(store.prepareWire([], 'k', store.preload('k')), ['h']);
  assert.ok(h.deps.includes(nested), 'a change of a key under k (record key k@x) is a dependency of k\'s next change');
  // Committed out of order, they reach the log in dependency order.
  const done = store.commitAll([h, g, f, e, d, c]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(store.seq, seq0, 'nothing is written before a');
  await Promise.all([done, store.commit(a), store.commit(other), store.commit(nested)]);
  assert.ok(seq0 < a.seq && a.seq < c.seq && c.seq < d.seq && d.seq < e.seq && f.seq < g.seq && nested.seq < h.seq, `seqs a ${a.seq}, c ${c.seq}, d ${d.seq}, e ${e.seq}, f ${f.seq}, g ${g.seq}, n ${nested.seq}, h ${h.seq}`);
  assert.deepEqual(store.preload('k').filter(([k]) => !k.startsWith('k@f')).map(([k, v]) => [k, [...v]]), [['k', [8]], ['k@1', [3]], ['k@2', [2]], ['k@3', [3]], ['k@x@y', [4]]]);
  assert.ok(store.stats().dependencyChecks < 40 * 3, `${store.stats().dependencyChecks} checks: the 40 entries were not walked per change`);
});
