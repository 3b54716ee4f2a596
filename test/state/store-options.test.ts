import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore, type KeyValueStoreOptions } from '../../src/state/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { tempDir } from './helpers.js';

// KeyValueStore.open's options, as a user of the public API may pass them. Before: any fsync other than the exact
// string 'always' — 'batch' (the journal's old spelling of it), 'Always', true — opened the store WITHOUT fsync,
// silently: a power loss could drop commits it had acknowledged. A snapshotEveryBytes of NaN never compared true,
// so the commit log was never snapshotted nor emptied and grew without end; 'Infinity' the same.

/** Counts fdatasync calls of every FileHandle in this process (real files, the real call underneath). */
async function countDatasyncs(t: { after: (fn: () => void) => void }, dir: string): Promise<{ count: number }> {
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  const original = proto.datasync;
  const counter = { count: 0 };
  proto.datasync = function datasync(this: unknown) {
    counter.count += 1;
    return original.call(this);
  };
  t.after(() => { proto.datasync = original; });
  return counter;
}

async function commitThree(store: KeyValueStore): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const cs = store.changeSet();
    cs.put(`k${i}`, i);
    await store.commit(cs);
  }
}

test('an fsync the store does not know is refused before anything is created, naming the store and the option', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  for (const fsync of ['sometimes', 'Always', true, 'interval', 1]) {
    const storeDir = join(dir, String(fsync));
    await assert.rejects(KeyValueStore.open({ dir: storeDir, name: 'opts', fsync } as unknown as KeyValueStoreOptions), (e) =>
      e instanceof WalrusError && e.code === 'CONFIG_INVALID' && /^store "opts" option fsync is .*; expected 'always' or 'never'$/.test(e.message), String(fsync));
    await assert.rejects(stat(storeDir), { code: 'ENOENT' }, 'no directory made');
  }
});

test("fsync 'batch' (the journal's old spelling of 'always') syncs every commit, with a deprecation warning", async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => { warnings.push(w); };
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const syncs = await countDatasyncs(t, dir);

  const never = await KeyValueStore.open({ dir: join(dir, 'never'), name: 'never', fsync: 'never' });
  await commitThree(never);
  await never.close();
  assert.equal(syncs.count, 0, "'never' syncs nothing");

  const batch = await KeyValueStore.open({ dir: join(dir, 'batch'), name: 'batch', fsync: 'batch' } as unknown as KeyValueStoreOptions);
  await commitThree(batch);
  await batch.close();
  assert.equal(syncs.count, 3, "'batch' syncs each of the three commits, as 'always' does");
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(warnings.some((w) => w.name === 'DeprecationWarning' && /store "batch" option fsync: "batch" is the old spelling of "always"/.test(w.message)),
    warnings.map((w) => w.message).join('\n'));
});

test('a snapshotEveryBytes that is not a whole number of bytes ≥ 1 is refused (NaN never snapshotted: the log grew without end)', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  for (const snapshotEveryBytes of [NaN, Infinity, 0, -1, 1.5, '64MiB']) {
    await assert.rejects(KeyValueStore.open({ dir: join(dir, 's'), name: 'snap', snapshotEveryBytes } as unknown as KeyValueStoreOptions), (e) =>
      e instanceof WalrusError && e.code === 'CONFIG_INVALID' && /^store "snap" option snapshotEveryBytes is .*; expected a whole number of bytes ≥ 1/.test(e.message),
    String(snapshotEveryBytes));
  }
  // A small valid one snapshots and empties the log as it grows.
  const store = await KeyValueStore.open({ dir: join(dir, 'ok'), name: 'snap', fsync: 'never', snapshotEveryBytes: 200 });
  t.after(() => store.close());
  for (let i = 0; i < 40; i++) {
    const cs = store.changeSet();
    cs.put(`key-${i}`, 'x'.repeat(50));
    await store.commit(cs);
  }
  assert.ok(store.stats().snapshots >= 10, `snapshots: ${store.stats().snapshots}`);
  assert.ok(store.stats().logBytes < 200, `log bytes: ${store.stats().logBytes}`);
  assert.equal(store.size, 40);
});

test('bad dir or options object: a clear CONFIG_INVALID, not a TypeError from deep inside', async () => {
  await assert.rejects(KeyValueStore.open({ dir: '', name: 'd' }), (e) => e instanceof WalrusError && e.code === 'CONFIG_INVALID' && /store "d" option dir is ""/.test(e.message));
  await assert.rejects(KeyValueStore.open({ dir: 7, name: 'd' } as unknown as KeyValueStoreOptions), (e) => e instanceof WalrusError && /option dir is 7/.test(e.message));
  await assert.rejects(KeyValueStore.open(null as unknown as KeyValueStoreOptions), (e) => e instanceof WalrusError && /expects an options object/.test(e.message));
});
