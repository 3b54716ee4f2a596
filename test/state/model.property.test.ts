import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { KeyValueStore } from '../../src/state/index.js';
import { tempDir } from './helpers.js';

type Op =
  | { kind: 'put'; key: string; value: number }
  | { kind: 'delete'; key: string }
  | { kind: 'commit' }
  | { kind: 'compact' }
  | { kind: 'reopen' };

const key = fc.constantFrom('a', 'a@1', 'a@2', 'b', 'b@x', 'c', 'ca', 'z');
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('put' as const), key, value: fc.integer() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'commit' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

const sorted = (m: Map<string, number>) => [...m].sort((x, y) => (x[0] < y[0] ? -1 : 1));

test('property: the store equals a model map after any sequence of writes, commits, compactions and reopens', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  let run = 0;
  await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
    const d = join(dir, String(run++));
    let store = await KeyValueStore.open({ dir: d, name: 'm', fsync: 'never', snapshotEveryBytes: 200 });
    const committed = new Map<string, number>();
    let pending = new Map<string, number | null>();
    let cs = store.changeSet();
    try {
      for (const o of ops) {
        if (o.kind === 'put') { cs.put(o.key, o.value); pending.set(o.key, o.value); }
        else if (o.kind === 'delete') { cs.delete(o.key); pending.set(o.key, null); }
        else if (o.kind === 'commit') {
          await store.commit(cs);
          for (const [k, v] of pending) if (v === null) committed.delete(k); else committed.set(k, v);
          pending = new Map();
          cs = store.changeSet();
        } else if (o.kind === 'compact') await store.compact();
        else {
          // Uncommitted writes are lost on reopen, as after a crash.
          await store.close();
          store = await KeyValueStore.open({ dir: d, name: 'm', fsync: 'never', snapshotEveryBytes: 200 });
          pending = new Map();
          cs = store.changeSet();
        }
        assert.deepEqual(store.range().map((e) => [e.key, e.value]), sorted(committed));
      }
      for (const prefix of ['a', 'a@', 'b@', 'c']) {
        assert.deepEqual(store.range({ prefix }).map((e) => e.key), sorted(committed).map(([k]) => k).filter((k) => k.startsWith(prefix)));
      }
    } finally {
      await store.close();
      await rm(d, { recursive: true, force: true });
    }
  }), { numRuns: 60 });
});

test('property: cutting the log at any byte keeps exactly a prefix of the commits', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 'p', fsync: 'never' });
  const states: Array<Array<[string, unknown]>> = [[]];
  for (let i = 0; i < 12; i++) {
    const cs = store.changeSet();
    cs.put(`k${i % 4}`, i);
    if (i % 3 === 2) cs.delete(`k${(i + 1) % 4}`);
    await store.commit(cs);
    states.push(store.range().map((e) => [e.key, e.value]));
  }
  await store.close();
  const full = await readFile(join(dir, 'commits.log'));
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: full.length }), async (cut) => {
    await writeFile(join(dir, 'commits.log'), full.subarray(0, cut));
    const s = await KeyValueStore.open({ dir, name: 'p', fsync: 'never' });
    try {
      assert.deepEqual(s.range().map((e) => [e.key, e.value]), states[s.seq], `cut at ${cut}: state must be that after commit ${s.seq}`);
      assert.equal(s.seq === 12, cut === full.length);
    } finally {
      await s.close();
    }
  }), { numRuns: 80 });
});
