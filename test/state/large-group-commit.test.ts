// run-tests: own process: long (20 s or more: writes and reads back over 256 MiB) and ~1 GiB of heap: started with the first, not last
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
// the same log.) A group is now split into frames of ~16 MiB at change boundaries, still in one write.

const CHANGES = 8_400;
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
  assert.ok(log.length > MAX_LOG_FRAME_BYTES, `log of ${log.length} bytes`);
  const scan = scanFrames(log);
  assert.equal(scan.tornBytes, 0);
  assert.equal(scan.corruptAt, undefined);
  assert.ok(scan.frames.every((f) => f.length < MAX_LOG_FRAME_BYTES / 4), 'frames stay well under the bound');

  const again = await KeyValueStore.open({ dir, name: 'group', fsync: 'never' });
  t.after(() => again.close());
  assert.equal(again.recoveredTornBytes, 0);
  assert.equal(again.size, CHANGES);
  assert.equal(again.seq, CHANGES);
  for (let i = 0; i < CHANGES; i += 997) assert.ok(again.hasApplied(`${i + 1}:0`), `record ${i + 1}`);
  assert.ok(again.hasApplied(`${CHANGES}:0`));
  assert.deepEqual(again.get(`key-${String(CHANGES - 1).padStart(5, '0')}`), VALUE);
});
