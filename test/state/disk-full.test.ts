import { test } from 'node:test';
import assert from 'node:assert/strict';
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
