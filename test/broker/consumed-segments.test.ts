import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalrusClient } from '../../src/client/index.js';
import { startTestBroker } from '../helpers/broker.js';

// A node kept the file offset of every entry ever written and a descriptor for
// every sealed segment, read or not, for as long as it ran and again after a
// restart: 8 bytes an entry and one descriptor per segment (a day at 10,000
// entries a second is 6.9 GB and 864 descriptors at the default 1,000,000
// entries a segment). Sealed segments wholly consumed — read, and not held by
// a lease — are now let go: their index and their descriptor, and with
// persisted cursors their file too (retention: test/broker/retention.test.ts).

/** Segment files in the topic's directory. */
const segmentFiles = (dataDir: string, topic: string) => readdirSync(join(dataDir, 'topics', topic)).filter((f) => f.endsWith('.seg'));

/** Segment files of `dataDir` this process holds open. */
function openSegments(dataDir: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(join('/proc/self/fd', fd));
      if (target.startsWith(dataDir) && target.endsWith('.seg')) n += 1;
    } catch { /* closed meanwhile */ }
  }
  return n;
}

const drain = async (client: WalrusClient, topic: string) => {
  const out: string[] = [];
  for (;;) {
    const got = await client.getMany(topic, 1000);
    if (got.length === 0) return out;
    out.push(...got.map(String));
  }
};

for (const fsync of ['always', 'never'] as const) {
  test(`fsync ${fsync}: a consumed sealed segment is let go once no lease holds it, and survives a restart as it was`, { timeout: 60_000 }, async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'walrus-consumed-'));
    const first = await startTestBroker({ segmentEntries: 100, fsync, dataDir });
    let second: Awaited<ReturnType<typeof startTestBroker>> | undefined;
    let client = new WalrusClient({ nodes: [first.address] });
    t.after(async () => {
      await client.close();
      await first.close();
      await second?.close();
      await rm(dataDir, { recursive: true, force: true });
    });
    await client.register('seg');
    const entries = Array.from({ length: 10_000 }, (_, i) => `e${i}`);
    await client.putMany('seg', entries);
    assert.equal(openSegments(dataDir), 101, 'one per segment: 100 sealed, 1 current');

    // A lease on the first 50 holds every segment after them; the rest is read.
    const lease = await client.lease('seg', 50);
    assert.deepEqual(lease.entries.map(String), entries.slice(0, 50));
    assert.deepEqual(await drain(client, 'seg'), entries.slice(50));
    assert.ok(openSegments(dataDir) >= 100, `${openSegments(dataDir)} open while the lease holds the first segment`);
    await lease.ack();
    await client.register('seg'); // one more round trip: the flush after the ACK has run
    assert.ok(openSegments(dataDir) <= 2, `${openSegments(dataDir)} segment files open once everything was consumed`);
    assert.deepEqual(segmentFiles(dataDir, 'seg'), ['00000000000000000101.seg'], 'the consumed segments were deleted');
    const state = await client.state('seg');
    assert.deepEqual(state.raw.sealed_segments, {}, 'STATE lists the sealed segments the node still holds');
    assert.deepEqual([state.raw.last_sealed_entry_offset, state.raw.total_entries, state.raw.read_cursor], [10_000, 10_000, 10_000], 'counts still start at the first entry ever written');

    // New entries after a restart: only they are delivered, and the consumed segments stay closed.
    await client.putMany('seg', ['after-1', 'after-2']);
    await client.close();
    await first.close();
    second = await startTestBroker({ segmentEntries: 100, fsync, dataDir });
    client = new WalrusClient({ nodes: [second.address] });
    assert.ok(openSegments(dataDir) <= 2, `${openSegments(dataDir)} segment files open after a restart`);
    assert.deepEqual(await drain(client, 'seg'), ['after-1', 'after-2']);
    const after = await client.state('seg');
    assert.deepEqual([after.raw.current_segment, after.raw.total_entries, after.raw.read_cursor], [101, 10_002, 10_002]);
  });
}
