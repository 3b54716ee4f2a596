import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore, inspectStore, storeDir } from '../../src/state/index.js';
import { tempDir } from './helpers.js';

test('get/put/delete/range on committed state, in key order', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir: storeDir(dir, 'app', 'kv'), name: 'kv' });
  const cs = store.changeSet();
  cs.put('b', 2);
  cs.put('a', { n: 1 });
  cs.put('c@2', 'x');
  cs.put('c@1', 'y');
  cs.put('d', 4);
  cs.delete('d');
  assert.deepEqual(cs.get('a'), { n: 1 }, 'a change set reads its own writes');
  assert.equal(store.get('a'), undefined, 'not visible before staging');
  await store.commit(cs, ['r1']);
  assert.deepEqual(store.range().map((e) => e.key), ['a', 'b', 'c@1', 'c@2']);
  assert.deepEqual(store.range({ prefix: 'c@' }), [{ key: 'c@1', value: 'y' }, { key: 'c@2', value: 'x' }]);
  assert.deepEqual(store.range({ start: 'b', end: 'c@2' }).map((e) => e.key), ['b', 'c@1']);
  assert.deepEqual(store.range({ limit: 1 }).map((e) => e.key), ['a']);
  assert.equal(store.get('d'), undefined);
  assert.ok(store.hasApplied('r1'));
  assert.ok(!store.hasApplied('r2'));
  assert.equal(store.seq, 1);
  await store.close();

  const again = await KeyValueStore.open({ dir: storeDir(dir, 'app', 'kv'), name: 'kv' });
  assert.deepEqual(again.range().map((e) => [e.key, e.value]), [['a', { n: 1 }], ['b', 2], ['c@1', 'y'], ['c@2', 'x']]);
  assert.ok(again.hasApplied('r1'), 'applied ids survive a restart');
  assert.equal(again.seq, 1);
  await again.close();
});

test('bad keys, values and store names get specific errors', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  await assert.rejects(KeyValueStore.open({ dir, name: 'bad/name' }), /invalid store name "bad\/name"/);
  const store = await KeyValueStore.open({ dir, name: 's' });
  t.after(() => store.close());
  const cs = store.changeSet();
  assert.throws(() => cs.put('', 1), /non-empty strings/);
  assert.throws(() => cs.put('k', undefined), /use delete\("k"\)/);
  assert.throws(() => cs.put('k', 'x'.repeat(40_000)), /above the 32768-byte limit/);
  assert.throws(() => cs.put('x'.repeat(2000), 1), /longer than 1024/);
  const other = await KeyValueStore.open({ dir: `${dir}/other`, name: 'other' });
  t.after(() => other.close());
  assert.throws(() => other.stage(store.changeSet()), /a change set of store "s" was passed to store "other"/);
});

test('staged changes are visible to later records but not durable until committed', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 's' });
  const a = store.changeSet('k');
  a.put('k', 1);
  const stagedA = store.stage(a, ['A']);
  assert.equal(store.get('k'), 1, 'staged is visible');
  assert.deepEqual(store.committedRange(), [], 'but not committed');
  const b = store.changeSet('k');
  b.put('k', (b.get<number>('k') ?? 0) + 1);
  const stagedB = store.stage(b, ['B']);
  assert.deepEqual(stagedB.deps, [stagedA], 'B depends on A (it read and overwrote k)');
  // Commit B first: it must wait until A is queued, so the log never holds B without A.
  const bDone = store.commit(stagedB);
  let bResolved = false;
  void bDone.then(() => { bResolved = true; });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(bResolved, false, 'B waits for A');
  assert.equal(store.hasApplied('B'), false);
  await store.commit(stagedA);
  await bDone;
  assert.equal(store.get('k'), 2);
  assert.ok(store.hasApplied('A') && store.hasApplied('B'));
  await store.close();
  const again = await KeyValueStore.open({ dir, name: 's' });
  assert.equal(again.get('k'), 2);
  await again.close();
});

test('a scoped change set refuses other keys (what makes key ordering safe)', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 's' });
  t.after(() => store.close());
  const cs = store.changeSet('cust-1');
  cs.put('cust-1', 1);
  cs.put('cust-1@w1', 2);
  assert.throws(() => cs.put('cust-10', 1), /outside the record's key "cust-1"/);
  assert.throws(() => cs.get('other'), /outside the record's key/);
  assert.throws(() => cs.range({ prefix: 'cust-1' }), /outside the record's key/);
  assert.deepEqual(cs.range({ prefix: 'cust-1@' }).map((e) => e.key), ['cust-1@w1']);
  const wire = cs.toWire();
  assert.throws(() => store.changeSetFromWire([...wire, ['zzz', null]], 'cust-1'), /outside the record's key/);
  assert.throws(() => store.changeSetFromWire([['cust-1', 'text' as never]], 'cust-1'), /not encoded bytes or null/);
  assert.throws(() => store.changeSetFromWire([['cust-1', new Uint8Array(40_000)]], 'cust-1'), /above the 32768-byte limit/);
  assert.throws(() => store.changeSetFromWire({} as never, 'cust-1'), /must be an array/);
  const sent = store.preload('cust-1');
  await store.commit(store.changeSetFromWire(wire, 'cust-1', sent));
  assert.deepEqual(store.preload('cust-1').map(([k]) => k), ['cust-1', 'cust-1@w1']);
  // A second record of the key ran concurrently (broken key ordering): the stale result is refused, retriably.
  const before = store.preload('cust-1');
  const racing = store.changeSet('cust-1');
  racing.put('cust-1', 99);
  store.stage(racing);
  assert.throws(() => store.changeSetFromWire([['cust-1', new Uint8Array([1])]], 'cust-1', before),
    (e: Error & { retriable?: boolean }) => /changed while a worker processed a record of it/.test(e.message) && e.retriable === true);
  assert.doesNotThrow(() => store.changeSetFromWire([], 'cust-1', store.preload('cust-1')));
});

test('prepareWire (the runtime path): the same checks, one write per key, preload order, and reads order commits', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 's' });
  t.after(() => store.close());
  const b = (n: number) => new Uint8Array([n]);
  assert.throws(() => store.prepareWire([['zzz', null]], 'cust-1'), /outside the record's key/);
  assert.throws(() => store.prepareWire([['cust-1', new Uint8Array(40_000)]], 'cust-1'), /above the 32768-byte limit/);
  // Duplicate keys from an untrusted worker: the last write wins, in first-written order.
  const dup = store.prepareWire([['cust-1@b', b(1)], ['cust-1', b(2)], ['cust-1@b', b(3)]], 'cust-1');
  assert.deepEqual(dup.writes.map(([k, v]) => [k, v && [...v]]), [['cust-1@b', [3]], ['cust-1', [2]]]);
  const first = store.stage(dup, ['r1']);
  // Preload: the key first, then its sub-keys in key order, staged values included.
  const later = store.changeSet('cust-1');
  later.put('cust-1@a', 4);
  store.stage(later);
  assert.deepEqual(store.preload('cust-1').map(([k]) => k), ['cust-1', 'cust-1@a', 'cust-1@b']);
  // A change computed from staged state depends on it through its reads even if it writes other keys.
  const sent = store.preload('cust-1');
  const readOnly = store.stage(store.prepareWire([['cust-1@c', b(5)]], 'cust-1', sent), ['r2']);
  assert.ok(readOnly.deps.includes(first), 'the change that wrote a key it read is a dependency');
  // Stale: the key's entries changed after the preload (a racing record), or one more appeared.
  const racing = store.changeSet('cust-1');
  racing.put('cust-1@d', 6);
  store.stage(racing);
  assert.throws(() => store.prepareWire([['cust-1', b(7)]], 'cust-1', sent),
    (e: Error & { retriable?: boolean }) => /changed while a worker processed a record of it/.test(e.message) && e.retriable === true);
  assert.doesNotThrow(() => store.prepareWire([], 'cust-1', store.preload('cust-1')));
});

test('a torn tail is truncated on open and the valid prefix kept', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 's' });
  for (let i = 0; i < 5; i++) {
    const cs = store.changeSet();
    cs.put(`k${i}`, i);
    await store.commit(cs, [`r${i}`]);
  }
  await store.close();
  const logPath = join(dir, 'commits.log');
  const full = await readFile(logPath);
  // Cut the last frame in half, then append garbage after a valid prefix in a second scenario.
  await writeFile(logPath, full.subarray(0, full.length - 5));
  const torn = await KeyValueStore.open({ dir, name: 's' });
  assert.deepEqual(torn.range().map((e) => e.key), ['k0', 'k1', 'k2', 'k3']);
  assert.ok(torn.recoveredTornBytes > 0);
  assert.ok(!torn.hasApplied('r4'), 'the torn commit is not applied, so its record is processed again');
  const cs = torn.changeSet();
  cs.put('k9', 9);
  await torn.commit(cs);
  await torn.close();
  await appendFile(logPath, Buffer.from([7, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9, 9, 9, 9]));
  const garbage = await KeyValueStore.open({ dir, name: 's' });
  assert.deepEqual(garbage.range().map((e) => e.key), ['k0', 'k1', 'k2', 'k3', 'k9'], 'a corrupt frame (bad crc) ends the log');
  await garbage.close();
});

/** A closed store `s` whose log holds five commits (k0..k4): the log's bytes and where each commit ends. */
async function fiveCommits(t: { after(fn: () => Promise<void>): void }): Promise<{ dir: string; logPath: string; ends: number[]; full: Buffer }> {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 's' });
  const ends: number[] = [];
  const logPath = join(dir, 'commits.log');
  for (let i = 0; i < 5; i++) {
    const cs = store.changeSet();
    cs.put(`k${i}`, `value ${i}`);
    await store.commit(cs, [`r${i}`]);
    ends.push((await stat(logPath)).size);
  }
  await store.close();
  return { dir, logPath, ends, full: await readFile(logPath) };
}

test('a corrupt commit in the middle of the log (later commits verify) refuses the open, naming the file and what to do, instead of truncating acknowledged commits', async (t) => {
  const { dir, logPath, ends, full } = await fiveCommits(t);
  const flipped = Buffer.from(full);
  flipped[ends[1]! + 12] ^= 0x10; // in the body of the third commit
  await writeFile(logPath, flipped);
  await assert.rejects(KeyValueStore.open({ dir, name: 's' }), (e: Error & { code?: string }) =>
    e.code === 'STATE_STORE_ERROR' && e.message.includes(`state log ${logPath} is corrupt: the commit at offset ${ends[1]}`) && /move its directory aside/.test(e.message));
  assert.equal((await stat(logPath)).size, full.length, 'nothing was truncated');
  // Inspection (walrus-stream store, the dashboard's store browser) refuses it alike, instead of showing two commits and a "torn" rest.
  await assert.rejects(inspectStore(dir, 's'), (e: Error & { code?: string }) =>
    e.code === 'STATE_STORE_ERROR' && e.message.includes(`state log ${logPath} is corrupt: the commit at offset ${ends[1]}`));
  // The same flip in the last commit is a torn tail: cut, and the store opens.
  const tail = Buffer.from(full);
  tail[ends[3]! + 12] ^= 0x10;
  await writeFile(logPath, tail);
  const reopened = await KeyValueStore.open({ dir, name: 's' });
  assert.deepEqual(reopened.range().map((e) => e.key), ['k0', 'k1', 'k2', 'k3']);
  await reopened.close();
});

test('a commit whose length field is hit (too large, past the end, or wrong but inside the file) refuses the open when later commits verify; a torn tail padded with zeros is still cut', async (t) => {
  const { dir, logPath, ends, full } = await fiveCommits(t);
  const third = ends[1]!;
  const length = full.readUInt32LE(third);
  // Each of these used to read as a torn tail: the log was cut at the third commit and k2..k4 were lost without a word.
  for (const [what, bad] of [['over the frame limit', 0xfffffff0], ['past the end of the file', full.length], ['wrong but inside the file', length - 3]] as const) {
    const hit = Buffer.from(full);
    hit.writeUInt32LE(bad, third);
    await writeFile(logPath, hit);
    await assert.rejects(KeyValueStore.open({ dir, name: 's' }), (e: Error & { code?: string; context?: Record<string, unknown> }) =>
      e.code === 'STATE_STORE_ERROR' && e.message.includes(`state log ${logPath} is corrupt: the commit at offset ${third} fails its checksum or length`) &&
      e.message.includes(`a commit at offset ${ends[2]} verifies`) && e.context?.resumesAt === ends[2], `length ${what}`);
    assert.equal((await stat(logPath)).size, full.length, `nothing was truncated (length ${what})`);
  }
  // A real torn tail: the last commit half written, then zeros where the file had grown but no data landed.
  await writeFile(logPath, Buffer.concat([full.subarray(0, ends[3]! + 6), Buffer.alloc(4096)]));
  const torn = await KeyValueStore.open({ dir, name: 's' });
  assert.deepEqual(torn.range().map((e) => e.key), ['k0', 'k1', 'k2', 'k3']);
  assert.equal(torn.recoveredTornBytes, 6 + 4096);
  await torn.close();
  // Bytes no torn write leaves, crafted so that every offset could start a frame: the search gives up and the open is refused, quickly.
  await writeFile(logPath, Buffer.concat([full.subarray(0, ends[3]!), Buffer.alloc(20 * 2 ** 20, 1)]));
  const started = performance.now();
  await assert.rejects(KeyValueStore.open({ dir, name: 's' }), (e: Error & { code?: string }) =>
    e.code === 'STATE_STORE_ERROR' && e.message.includes(`the commit at offset ${ends[3]} fails its checksum or length`) && /search for a commit after it gave up/.test(e.message));
  assert.ok(performance.now() - started < 10_000, 'the search is bounded');
});

test('compaction writes a snapshot, empties the log and keeps state and unreleased ids', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 's', snapshotEveryBytes: 2_000 });
  for (let i = 0; i < 200; i++) {
    const cs = store.changeSet();
    cs.put(`k${i % 50}`, i);
    await store.commit(cs, [`r${i}`]);
  }
  store.markReleased(Array.from({ length: 190 }, (_, i) => `r${i}`));
  await store.compact();
  assert.equal((await stat(join(dir, 'commits.log'))).size, 0);
  await store.close();
  const again = await KeyValueStore.open({ dir, name: 's' });
  assert.equal(again.size, 50);
  assert.equal(again.get('k49'), 199);
  assert.equal(again.seq, 200);
  assert.ok(again.hasApplied('r199') && !again.hasApplied('r10'), 'released ids are forgotten at snapshot time');
  again.forgetAppliedExcept(['r199', 'not-applied']);
  assert.deepEqual([again.hasApplied('r199'), again.hasApplied('r198'), again.hasApplied('not-applied')], [true, false, false]);
  await again.close();
});

test('many concurrent change sets on different keys all commit exactly once', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 'counts' });
  const keys = 20;
  const perKey = 50;
  // Per key, records run one after another (key ordering); different keys interleave freely.
  const commits: Promise<void>[] = [];
  await Promise.all(Array.from({ length: keys }, async (_, k) => {
    for (let i = 0; i < perKey; i++) {
      const cs = store.changeSet(`key${k}`);
      cs.put(`key${k}`, (cs.get<number>(`key${k}`) ?? 0) + 1);
      const staged = store.stage(cs, [`key${k}:${i}`]);
      const done = store.commit(staged);
      commits.push(done);
      if (i % 3 === 0) await done;
    }
  }));
  await Promise.all(commits);
  const stats = store.stats();
  assert.equal(stats.commits, keys * perKey);
  assert.ok(stats.flushes < stats.commits, `group commit: ${stats.commits} commits in ${stats.flushes} flushes`);
  assert.equal(stats.staged, 0);
  assert.equal(stats.appliedIds, keys * perKey);
  await store.close();
  const again = await KeyValueStore.open({ dir, name: 'counts' });
  for (let k = 0; k < keys; k++) assert.equal(again.get(`key${k}`), perKey, `key${k}`);
  assert.equal(again.seq, keys * perKey);
  await again.close();
});

test('one writer per store directory: a second open is refused, a dead owner\'s lock is taken over', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 's' });
  await assert.rejects(KeyValueStore.open({ dir, name: 's' }), /already open in this process/);
  await store.close();
  await store.close(); // closing twice is harmless
  await writeFile(join(dir, 'LOCK'), '999999999\n'); // a pid that cannot exist: a kill -9'd owner
  const again = await KeyValueStore.open({ dir, name: 's' });
  await again.close();
  await writeFile(join(dir, 'LOCK'), `${process.ppid}\n`); // a live process that is not us
  await assert.rejects(KeyValueStore.open({ dir, name: 's' }), /is in use by process/);
});

test('preload stays cheap while new keys keep arriving (no re-sort of the store per new key)', { timeout: 30_000 }, async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 'wide', fsync: 'never' });
  t.after(() => store.close());
  const pending: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < 30_000; i++) {
    const key = `user-${i}`;
    assert.deepEqual(store.preload(key), []);
    const cs = store.changeSet(key);
    cs.put(key, i);
    cs.put(`${key}@w`, i);
    pending.push(store.commit(cs));
    if (i % 1_000 === 0) assert.deepEqual(store.preload(key).map(([k]) => k), [key, `${key}@w`]);
  }
  await Promise.all(pending);
  // A sort of the whole store per new key would take minutes here; the scope index keeps it linear.
  assert.ok(performance.now() - started < 20_000, `took ${Math.round(performance.now() - started)} ms`);
  assert.equal(store.size, 60_000);
  assert.deepEqual(store.range({ prefix: 'user-29999@' }).map((e) => e.value), [29_999]);
});

test('commitAll: a group commits in staging order, waits for an uncommitted change it depends on, and fails with it', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const put = (store: KeyValueStore, key: string, value: number, id: string) => {
    const cs = store.changeSet(key);
    cs.put(key, value);
    return store.stage(cs, [id]);
  };
  let store = await KeyValueStore.open({ dir, name: 's' });
  const outside = put(store, 'a', 1, 'r1');           // an earlier entry's change, not committed yet
  const group = [put(store, 'a', 2, 'r2'), put(store, 'b', 3, 'r3'), put(store, 'a', 4, 'r4')];
  let settled = false;
  const all = store.commitAll(group).then(() => { settled = true; });
  // A change with no pending dependency is not held back: it reaches the log while the group still waits.
  for (let i = 0; i < 1000 && !store.hasApplied('r3'); i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(store.hasApplied('r3'), true, 'a change with no pending dependency is not held back');
  assert.equal(settled, false, 'the group waits for the change it was computed on top of');
  await store.commit(outside);
  await all;
  assert.deepEqual(['r1', 'r2', 'r3', 'r4'].map((id) => store.hasApplied(id)), [true, true, true, true]);
  await store.close();
  store = await KeyValueStore.open({ dir, name: 's' });
  assert.deepEqual(store.committedRange<number>().map((e) => [e.key, e.value]), [['a', 4], ['b', 3]], 'the log replays in staging order');
  // The change a group depends on is abandoned: the group fails, and nothing of it is committed.
  const base = put(store, 'c', 1, 'r5');
  const dependent = [put(store, 'c', 2, 'r6'), put(store, 'd', 1, 'r7')];
  const failing = store.commitAll(dependent);
  store.abandon(base, new Error('sink write failed for good'));
  await assert.rejects(failing, /abandoned|depends on failed/);
  assert.equal(store.hasApplied('r6'), false);
  await store.close();
});
