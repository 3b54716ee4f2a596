import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { fillDiskUnder } from '../helpers/dev-full.js';
import { tempDir } from './helpers.js';

// A full disk under a state store: its commit fails with ENOSPC. The error named the log but not
// the cause in words nor what to do; the run stops on it (docs/journal.md, "A full disk").

test('a commit on a full disk fails with STATE_STORE_ERROR naming the log, the disk and what to do; the store reopens', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const at = storeDir(dir, 'app', 'kv');
  const store = await KeyValueStore.open({ dir: at, name: 'kv' });
  const first = store.changeSet();
  first.put('a', 1);
  await store.commit(first, ['r1']);
  const log = fillDiskUnder((path) => path === join(at, 'commits.log'));
  const second = store.changeSet();
  second.put('a', 2);
  const failed = await store.commit(second, ['r2']).then(() => undefined, (error: unknown) => error as Error & { code?: string });
  assert.ok(failed instanceof Error, 'the commit must fail');
  assert.equal(failed.code, 'STATE_STORE_ERROR');
  assert.ok(failed.message.startsWith(`cannot append to state log ${log}: ENOSPC`), failed.message);
  assert.ok(failed.message.includes(`the disk holding ${at} is full: free space there`), failed.message);
  await store.close().catch(() => undefined);

  const again = await KeyValueStore.open({ dir: at, name: 'kv' });
  assert.equal(again.get('a'), 1, 'the committed value, not the one that failed');
  assert.ok(again.hasApplied('r1') && !again.hasApplied('r2'));
  await again.close();
});

test('compact() whose snapshot cannot be written rejects (it never settled) and leaves no temporary snapshot behind', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const at = storeDir(dir, 'app', 'kv');
  const store = await KeyValueStore.open({ dir: at, name: 'kv' });
  const change = store.changeSet();
  change.put('a', 1);
  await store.commit(change, ['r1']);
  // A snapshot's last step, the rename over snapshot.bin, fails: a directory with a file in it stands there.
  await mkdir(join(at, 'snapshot.bin', 'blocker'), { recursive: true });
  const outcome = await Promise.race([
    store.compact().then(() => 'resolved', (error: Error) => `rejected: ${error.message}`),
    new Promise<string>((resolve) => setTimeout(resolve, 3_000, 'still pending after 3 s').unref()),
  ]);
  assert.match(outcome, /^rejected: /, outcome);
  assert.deepEqual((await readdir(at)).filter((name) => name.endsWith('.tmp')), [], 'no temporary snapshot left');
  await store.close().catch(() => undefined);
});
