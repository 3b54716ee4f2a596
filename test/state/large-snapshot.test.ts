// run-tests: own process: long (20 s or more: writes and reads back over 256 MiB) and ~1 GiB of heap: started with the first, not last
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore } from '../../src/state/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { tempDir } from './helpers.js';

// A store holding more than 256 MiB. Its snapshot is one frame, and the snapshot reader used the commit log's
// frame bound (256 MiB): the store wrote the snapshot, emptied its log into it, and on the next open refused it
// as "corrupt (checksum or length mismatch)" — with `delete the store directory` as the advice, although every
// byte was as written. Any store past 256 MiB of state hit it at its first automatic snapshot.

const KEYS = 8_400;
const VALUE = Buffer.alloc(32_000, 0x5a);

test('a snapshot over 256 MiB reads back: the store reopens with every key', { timeout: 180_000 }, async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  // No automatic snapshot on the way (each rewrote the growing state: 9.6 s of the test's commits): compact() makes the one.
  const store = await KeyValueStore.open({ dir, name: 'large', fsync: 'never', snapshotEveryBytes: Number.MAX_SAFE_INTEGER });
  for (let i = 0; i < KEYS; i += 200) {
    const cs = store.changeSet();
    for (let j = i; j < Math.min(i + 200, KEYS); j++) cs.put(`key-${String(j).padStart(5, '0')}`, VALUE);
    await store.commit(cs, [`${i}:0`]);
  }
  await store.compact();
  assert.equal(store.stats().logBytes, 0, 'the log was emptied into the snapshot');
  await store.close();
  const { size } = await stat(join(dir, 'snapshot.bin'));
  assert.ok(size > 256 * 2 ** 20, `snapshot of ${size} bytes`);

  const again = await KeyValueStore.open({ dir, name: 'large', fsync: 'never' });
  t.after(() => again.close());
  assert.equal(again.size, KEYS);
  assert.equal(again.seq, KEYS / 200);
  assert.deepEqual(again.get(`key-${String(KEYS - 1).padStart(5, '0')}`), VALUE);
  assert.ok(again.hasApplied(`${KEYS - 200}:0`));
});

test('a snapshot whose length field does not match its size is refused before a buffer of that size is made; a flipped byte in the body too', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir, name: 'small', fsync: 'never' });
  const cs = store.changeSet();
  cs.put('k', 'v');
  await store.commit(cs);
  await store.compact();
  await store.close();
  const path = join(dir, 'snapshot.bin');
  const { size } = await stat(path);
  const corrupt = (e: unknown): boolean => e instanceof WalrusError && e.code === 'STATE_STORE_ERROR'
    && e.message === `state snapshot ${path} is corrupt (checksum or length mismatch); delete the store directory and restore it from its changelog`;

  const handle = await open(path, 'r+');
  const body = Buffer.alloc(1);
  await handle.read(body, 0, 1, size - 1);
  await handle.write(Buffer.from([body[0]! ^ 0xff]), 0, 1, size - 1);
  await handle.close();
  await assert.rejects(KeyValueStore.open({ dir, name: 'small', fsync: 'never' }), corrupt, 'flipped byte');

  // Grown to 3 GiB (sparse): the length field says otherwise, so nothing that size is allocated or read.
  await truncate(path, 3 * 2 ** 30);
  const rssBefore = process.memoryUsage().rss;
  await assert.rejects(KeyValueStore.open({ dir, name: 'small', fsync: 'never' }), corrupt, '3 GiB');
  assert.ok(process.memoryUsage().rss - rssBefore < 2 ** 30, 'no 3 GiB buffer');
  await truncate(path, 4);
  await assert.rejects(KeyValueStore.open({ dir, name: 'small', fsync: 'never' }), corrupt, 'shorter than a frame header');
});
