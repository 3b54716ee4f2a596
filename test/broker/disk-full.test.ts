import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { topicDirName } from '../../src/broker/store/topic-dirs.js';

// The disk is full when a topic rolls over to its next segment (on a real disk: no inode left, or
// no room for the header). The node answered ERR to the PUT whose entry it had just stored, then
// stored every retry (and every later PUT) in the full segment while answering ERR: each retry of
// a client or a pipeline's sink added one more copy. /dev/full as the next segment file gives
// ENOSPC from the kernel, no mount needed.

test('a rollover on a full disk: the PUT that filled the segment is OK, later PUTs fail storing nothing, and go on once there is room', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-roll-full-'));
  const node = await startTestBroker({ dataDir, segmentEntries: 2 });
  const c = await RawClient.connect(node.port);
  try {
    assert.equal(await c.request('REGISTER r'), 'OK');
    const next = join(dataDir, 'topics', 'r', '00000000000000000002.seg');
    await symlink('/dev/full', next);
    assert.equal(await c.request('PUT r a'), 'OK');
    assert.equal(await c.request('PUT r b'), 'OK', 'b is stored (the segment is full after it): its PUT succeeds');
    for (const p of ['c', 'd']) {
      const reply = await c.request(`PUT r ${p}`);
      assert.ok(reply.startsWith('ERR storage error: ENOSPC') && reply.includes(next), reply);
    }
    assert.equal((JSON.parse(await c.request('STATE r')) as { total_entries: number }).total_entries, 2, 'nothing of the failed PUTs is stored');

    await unlink(next); // room again
    assert.equal(await c.request('PUT r c'), 'OK');
    const got: string[] = [];
    for (let reply = await c.request('GET r'); reply !== 'EMPTY'; reply = await c.request('GET r')) got.push(reply);
    assert.deepEqual(got, ['OK a', 'OK b', 'OK c'], 'each entry once');
    assert.equal((JSON.parse(await c.request('STATE r')) as { current_segment: number }).current_segment, 2);
  } finally {
    c.close();
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

// A BATCH_PUT whose entries span a rollover on a full disk: the entries before the rollover were
// kept while the batch was answered ERR, so its retry stored them again (a, b, a, b, c). Now the
// batch is stored whole or not at all, in memory and in the segment file (checked after a restart).
const batchPut = (topic: string, items: string[]): string =>
  `BATCH_PUT ${topic} ${items.length} ${items.map((x) => `${Buffer.byteLength(x)} ${x}`).join(' ')}`;

test('a BATCH_PUT spanning a rollover on a full disk stores nothing, so its retry stores each entry once (after a restart too)', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-batch-full-'));
  try {
    const node = await startTestBroker({ dataDir, segmentEntries: 2 });
    const c = await RawClient.connect(node.port);
    try {
      assert.equal(await c.request('REGISTER r'), 'OK');
      assert.equal(await c.request('PUT r x'), 'OK');
      const next = join(dataDir, 'topics', 'r', '00000000000000000002.seg');
      await symlink('/dev/full', next);
      for (let attempt = 0; attempt < 2; attempt++) {
        const reply = await c.request(batchPut('r', ['a', 'b', 'c']));
        assert.ok(reply.startsWith('ERR storage error: ENOSPC') && reply.includes(next), reply);
        assert.equal((JSON.parse(await c.request('STATE r')) as { total_entries: number }).total_entries, 1, 'nothing of the failed batch is stored');
      }
      await unlink(next); // room again
      assert.equal(await c.request(batchPut('r', ['a', 'b', 'c'])), 'OK 3');
      assert.equal(await c.request('PUT r d'), 'OK');
    } finally {
      c.close();
      await node.close();
    }
    const again = await startTestBroker({ dataDir, segmentEntries: 2 });
    const d = await RawClient.connect(again.port);
    try {
      const got: string[] = [];
      for (let reply = await d.request('GET r'); reply !== 'EMPTY'; reply = await d.request('GET r')) got.push(reply);
      assert.deepEqual(got, ['OK x', 'OK a', 'OK b', 'OK c', 'OK d'], 'each entry once, in order');
    } finally {
      d.close();
      await again.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

// A REGISTER whose topic.json cannot be written (the disk filled after the segment header): each one
// answered ERR but kept the new segment's descriptor open, so a client retrying REGISTER on a full disk
// ran the node out of descriptors (20 retries: 20 more open files), and the ERR named no file.
test('a REGISTER on a full disk keeps no descriptor open, names topic.json, and works once there is room', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-register-full-'));
  const node = await startTestBroker({ dataDir });
  const c = await RawClient.connect(node.port);
  try {
    const dir = join(dataDir, 'topics', topicDirName('r'));
    await mkdir(dir, { recursive: true });
    const meta = join(dir, 'topic.json');
    await symlink('/dev/full', meta);
    const before = (await readdir('/proc/self/fd')).length;
    for (let i = 0; i < 20; i++) {
      const reply = await c.request('REGISTER r');
      assert.equal(reply, `ERR storage error: ENOSPC: no space left on device, write (writing ${meta})`);
    }
    const after = (await readdir('/proc/self/fd')).length;
    assert.ok(after - before < 5, `descriptors open: ${before} before 20 failed REGISTERs, ${after} after`);
    await unlink(meta); // room again
    assert.equal(await c.request('REGISTER r'), 'OK');
    assert.equal(await c.request('PUT r a'), 'OK');
    assert.equal(await c.request('GET r'), 'OK a');
  } finally {
    c.close();
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
