import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore } from '../../src/state/index.js';
import { encodeLogFrame } from '../../src/state/store/frame-log.js';
import { pack } from '../../src/state/model/codec.js';
import { WalrusError } from '../../src/errors/index.js';
import { tempDir } from '../state/helpers.js';

// Store files whose checksums hold but whose contents no store wrote: another program's output in our frame
// format, a file from a tool gone wrong, or a crafted one. Before: a snapshot holding `null` failed with
// "Cannot read properties of null (reading 'v')", a number as a key with "key.indexOf is not a function", a
// snapshot or commit with seq NaN opened and made every later commit's seq NaN, a commit with seq -1 was skipped
// without a word, a string as a value opened and failed at the first read. And a symbolic link left at
// `snapshot.bin.tmp` had the next snapshot overwrite the file it pointed to, then moved the link in place of
// snapshot.bin, so the store refused to open at all.

const STORE = 'crafted';

async function storeWith(t: { after: (fn: () => Promise<void>) => void }, file: 'snapshot.bin' | 'commits.log', body: unknown): Promise<string> {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: STORE, fsync: 'never' });
  await store.close();
  await writeFile(join(dir, file), encodeLogFrame(pack(body)));
  return dir;
}

function refusedNaming(path: string, what: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof WalrusError && e.code === 'STATE_STORE_ERROR' && e.message.startsWith(`state file ${path} `)
    && what.test(e.message) && /move the store's directory aside and start again; the store is then restored from its changelog topic/.test(e.message);
}

const value = pack(1);
const SNAPSHOTS: Array<[string, unknown, RegExp]> = [
  ['null', null, /it holds no snapshot/],
  ['a number', 5, /it holds no snapshot/],
  ['seq NaN', { v: 1, n: STORE, seq: NaN, keys: [], values: [], applied: [] }, /its commit seq is NaN/],
  ['seq -5', { v: 1, n: STORE, seq: -5, keys: [], values: [], applied: [] }, /its commit seq is -5/],
  ['seq "x"', { v: 1, n: STORE, seq: 'x', keys: [], values: [], applied: [] }, /its commit seq is x/],
  ['a number as a key', { v: 1, n: STORE, seq: 1, keys: [1], values: [value], applied: [] }, /key 0 is not a key/],
  ['a string as a value', { v: 1, n: STORE, seq: 1, keys: ['k'], values: ['str'], applied: [] }, /the value of key "k" is not encoded bytes/],
  ['no values', { v: 1, n: STORE, seq: 1, keys: ['k'] }, /its keys and values do not pair up/],
  ['applied a number', { v: 1, n: STORE, seq: 1, keys: [], values: [], applied: 7 }, /its applied record ids are not a list of ids/],
];

for (const [name, body, what] of SNAPSHOTS) {
  test(`a snapshot.bin whose checksum holds but that holds ${name} is refused naming the file and what to do`, async (t) => {
    const dir = await storeWith(t, 'snapshot.bin', body);
    await assert.rejects(KeyValueStore.open({ dir, name: STORE, fsync: 'never' }), refusedNaming(join(dir, 'snapshot.bin'), what));
  });
}

const COMMITS: Array<[string, unknown, RegExp]> = [
  ['seq NaN', { n: STORE, s: NaN, w: [['k', value]], c: [] }, /its commit seq is NaN/],
  ['seq -1', { n: STORE, s: -1, w: [['k', value]], c: [] }, /its commit seq is -1/],
  ['seq 1.5', { n: STORE, s: 1.5, w: [['k', value]], c: [] }, /its commit seq is 1\.5/],
  ['a number as a key', { n: STORE, s: 1, w: [[1, value]], c: [] }, /a write in it has no key/],
  ['a write that is no pair', { n: STORE, s: 1, w: [5], c: [] }, /a write in it has no key/],
  ['a string as a value', { n: STORE, s: 1, w: [['k', 'str']], c: [] }, /the write of key "k" holds no encoded value/],
  ['numbers as record ids', { n: STORE, s: 1, w: [], c: [1, 2] }, /its record ids are not ids/],
];

for (const [name, body, what] of COMMITS) {
  test(`a commits.log frame whose checksum holds but that holds ${name} is refused naming the file and what to do`, async (t) => {
    const dir = await storeWith(t, 'commits.log', body);
    await assert.rejects(KeyValueStore.open({ dir, name: STORE, fsync: 'never' }), refusedNaming(join(dir, 'commits.log'), what));
  });
}

test('a symbolic link left at snapshot.bin.tmp: the snapshot replaces the link, the file it pointed to is untouched, the store reopens with its state', async (t) => {
  const { dir: root, cleanup } = await tempDir();
  t.after(cleanup);
  const dir = join(root, 'store');
  const victim = join(root, 'victim.txt');
  await writeFile(victim, 'bytes of some other program');
  const store = await KeyValueStore.open({ dir, name: STORE, fsync: 'never' });
  await symlink(victim, join(dir, 'snapshot.bin.tmp'));
  const cs = store.changeSet();
  cs.put('k', 'v');
  await store.commit(cs);
  await store.compact();
  await store.close();
  assert.equal(await readFile(victim, 'utf8'), 'bytes of some other program');
  assert.ok((await lstat(join(dir, 'snapshot.bin'))).isFile(), 'snapshot.bin is a regular file, not the link');
  const again = await KeyValueStore.open({ dir, name: STORE, fsync: 'never' });
  t.after(() => again.close());
  assert.equal(again.get('k'), 'v');
  assert.equal(again.stats().logBytes, 0, 'the state came from the snapshot');
});

test('snapshots and commits a store writes still open (seq 0 snapshot of an empty store, deletes in the log)', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: STORE, fsync: 'never' });
  await store.compact();
  const a = store.changeSet();
  a.put('a', 1);
  a.put('b', 2);
  await store.commit(a, ['1:0']);
  const b = store.changeSet();
  b.delete('a');
  await store.commit(b, ['2:0']);
  await store.close();
  const again = await KeyValueStore.open({ dir, name: STORE, fsync: 'never' });
  t.after(() => again.close());
  assert.deepEqual(again.range().map((e) => [e.key, e.value]), [['b', 2]]);
  assert.ok(again.hasApplied('2:0'));
});

test('a changelog entry with an empty key stops the restore as a damaged entry, instead of restoring a key no store can hold', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  // Ours in form (wsc1: + msgpack), but its first write has the key "": no store writes one (put('') is refused), and
  // a store that restored it wrote it into its snapshot, which the next open refused.
  const entry = `wsc1:${Buffer.from(pack({ n: STORE, s: 1, w: [['', pack(1)], ['ok', pack(2)]] })).toString('base64')}`;
  const store = await KeyValueStore.open({ dir, name: STORE, fsync: 'never' });
  let served = false;
  const fetch = async (): Promise<string[]> => {
    if (served) return [];
    served = true;
    return [entry];
  };
  await assert.rejects(store.restoreFromChangelog(fetch, undefined, 'app-crafted-changelog'), (e) => e instanceof WalrusError && e.code === 'STATE_STORE_ERROR'
    && /entry 1 of changelog topic app-crafted-changelog starts with wsc1: but does not decode/.test(e.message));
  await store.close();
  const again = await KeyValueStore.open({ dir, name: STORE, fsync: 'never' });
  t.after(() => again.close());
  assert.equal(again.restoreIncomplete, true, 'the restore is left unfinished, to be resumed');
  assert.equal(again.size, 0, 'nothing of the damaged entry was applied');
});
