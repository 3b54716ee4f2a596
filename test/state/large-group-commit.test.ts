import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyValueStore } from '../../src/state/index.js';
import { scanFrames, MAX_LOG_FRAME_BYTES } from '../../src/state/store/frame-log.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './helpers.js';

// Group commit writes every change queued behind the write in progress at once. It wrote them as ONE frame,
// however many: 8,400 changes of 32 KB each, queued while the first commit was being written, became a 269 MB
// frame, over the 256 MiB the log reader accepts. Every commit was acknowledged, and the next open refused the
// store's own log as corrupt ("the search for a commit after it gave up"), advising to move the directory aside.
// (With the default snapshotEveryBytes a snapshot follows such a flush at once; a crash before it finished left
// the same log.) A group is now split into frames of ~16 MiB at change boundaries, still in one write; shown here
// on 51 MB of changes (a 269 MB log took 20 s): one frame of 51 MB before, frames of at most 16 MiB and one
// change now, so no group however large makes a frame near the reader's bound.

const CHANGES = 1_600;
const FRAME_TARGET = 16 * 2 ** 20;
const VALUE = Buffer.alloc(32_000, 0x33);

test('thousands of large commits queued behind one write reopen intact: every key, every applied id, nothing cut', { timeout: 180_000 }, async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  // No snapshot, so the log is what the next open reads.
  const store = await KeyValueStore.open({ dir, name: 'group', fsync: 'never', snapshotEveryBytes: Number.MAX_SAFE_INTEGER });
  const commits: Array<Promise<void>> = [];
  for (let i = 0; i < CHANGES; i++) {
    const cs = store.changeSet();
    cs.put(`key-${String(i).padStart(5, '0')}`, VALUE);
    commits.push(store.commit(cs, [`${i + 1}:0`]));
  }
  await Promise.all(commits);
  assert.ok(store.stats().flushes < CHANGES / 2, `group commit gathered them: ${store.stats().flushes} flushes`);
  await store.close();

  const log = await readFile(join(dir, 'commits.log'));
  assert.ok(log.length > 3 * FRAME_TARGET, `log of ${log.length} bytes`);
  const scan = scanFrames(log);
  assert.equal(scan.tornBytes, 0);
  assert.equal(scan.corruptAt, undefined);
  assert.ok(scan.frames.length >= 3, `${scan.frames.length} frames`);
  const largest = Math.max(...scan.frames.map((f) => f.length));
  assert.ok(largest <= FRAME_TARGET + 64 * 1024, `a frame of ${largest} bytes: a group is cut at ~16 MiB, far under the reader's bound (${MAX_LOG_FRAME_BYTES})`);

  const again = await KeyValueStore.open({ dir, name: 'group', fsync: 'never' });
  t.after(() => again.close());
  assert.equal(again.recoveredTornBytes, 0);
  assert.equal(again.size, CHANGES);
  assert.equal(again.seq, CHANGES);
  for (let i = 0; i < CHANGES; i += 997) assert.ok(again.hasApplied(`${i + 1}:0`), `record ${i + 1}`);
  assert.ok(again.hasApplied(`${CHANGES}:0`));
  assert.deepEqual(again.get(`key-${String(CHANGES - 1).padStart(5, '0')}`), VALUE);
});
