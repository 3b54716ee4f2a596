import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore } from '../../src/state/index.js';
import { startTestBroker } from '../helpers/broker.js';
import { tempDir } from './helpers.js';
import { topicIo } from './walrus-topic.js';

// A restore appends every batch it reads to the local commit log and snapshotted only once it had read the whole
// changelog — which Walrus never compacts, so it holds every commit since the last restore. The log grew by the
// whole changelog meanwhile: an interrupted restore (a kill, SIGTERM, the node going away: all resumable) left a
// log that every open reads into memory at once, and past 2 GiB one no open could read ("File size ... is
// greater than 2 GiB"). It now snapshots at snapshotEveryBytes of log, as commits do.

const SNAPSHOT_EVERY = 128 * 1024;
const dump = (s: KeyValueStore) => s.range().map((e) => [e.key, e.value]);

test('an interrupted restore keeps the log under snapshotEveryBytes, and resuming it gives the exact state', { timeout: 120_000 }, async (t) => {
  const node = await startTestBroker();
  const { dir, cleanup } = await tempDir();
  t.after(async () => { await node.close(); await cleanup(); });
  const io = await topicIo(node.port, 'app-big-changelog', 10);
  t.after(() => io.close());

  const src = await KeyValueStore.open({ dir: join(dir, 'src'), name: 'big', fsync: 'never', changelog: { publish: io.publish } });
  for (let i = 0; i < 600; i++) {
    const cs = src.changeSet();
    cs.put(`key-${i % 500}`, { i, text: 'x'.repeat(3_000) });
    if (i % 7 === 0) cs.delete(`key-${(i + 11) % 500}`);
    await src.commit(cs, [`${i + 1}:0`]);
  }
  const expected = dump(src);
  await src.close();

  const target = await KeyValueStore.open({ dir: join(dir, 'dst'), name: 'big', fsync: 'never', snapshotEveryBytes: SNAPSHOT_EVERY, changelog: { publish: io.publish } });
  let calls = 0;
  let largestLog = 0;
  const failing = async () => {
    if (++calls === 45) throw new Error('connection lost');
    return io.fetch();
  };
  await assert.rejects(target.restoreFromChangelog(failing, () => { largestLog = Math.max(largestLog, target.stats().logBytes); }), /connection lost/);
  const read = target.stats();
  await target.close();
  // 44 batches of 10 entries of ~3 KB were read: ~1.3 MB, ten times the bound.
  assert.ok(read.snapshots >= 5, `snapshots while restoring: ${read.snapshots}`);
  assert.ok(largestLog < SNAPSHOT_EVERY + 64 * 1024, `largest log while restoring: ${largestLog} bytes`);
  assert.ok((await stat(join(dir, 'dst', 'commits.log'))).size < SNAPSHOT_EVERY + 64 * 1024);

  const resumed = await KeyValueStore.open({ dir: join(dir, 'dst'), name: 'big', fsync: 'never', snapshotEveryBytes: SNAPSHOT_EVERY, changelog: { publish: io.publish } });
  assert.equal(resumed.restoreIncomplete, true);
  await resumed.restoreFromChangelog(io.fetch);
  assert.equal(resumed.restoreIncomplete, false);
  assert.deepEqual(dump(resumed), expected, 'what was read before the interruption is kept, through the snapshots');
  await resumed.close();
  assert.ok(resumed.hasApplied('600:0') === false || resumed.hasApplied('600:0'), 'ids are the restore\'s business (no journal here)');
});
