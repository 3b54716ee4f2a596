import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBatchGet, encodeBatchLease, encodeBatchPut, parseBatchGet } from '../../src/protocol/index.js';
import { crc32 } from '../../src/broker/store/crc32.js';
import type { RecoveryRepair } from '../../src/broker/store/recovery-report.js';
import type { BrokerOptions } from '../../src/broker/index.js';
import { spawnBrokerProcess, startTestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { withTempDir } from '../helpers/temp-dir.js';

// Retention: a sealed segment wholly behind the topic's durable cursor, and
// held by no lease, is deleted once that cursor is durable. Before, every
// segment ever written stayed on disk (docs/broker.md, "Retention").

const entry = (i: number): string => `e${String(i).padStart(3, '0')}`;
const range = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, k) => entry(from + k));
const segments = (dir: string): number[] =>
  readdirSync(join(dir, 'topics', 'r')).filter((f) => f.endsWith('.seg')).map((f) => Number(f.slice(0, 20))).sort((a, b) => a - b);
const span = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, k) => from + k);

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('walrus-retention-', fn);

async function batchGet(c: RawClient, max: number): Promise<string[]> {
  c.writeRaw(encodeBatchGet('r', max));
  const frame = (await c.nextFrame())!;
  return frame.toString() === 'EMPTY' ? [] : parseBatchGet(frame).map(String);
}

async function state(c: RawClient): Promise<Record<string, unknown>> {
  return JSON.parse(await c.request('STATE r')) as Record<string, unknown>;
}

/** REGISTER r and 100 entries e000..e099 in segments of 10 (segments 1..10 sealed, 11 current). */
async function fill(c: RawClient): Promise<void> {
  assert.equal(await c.request('REGISTER r'), 'OK');
  c.writeRaw(encodeBatchPut('r', range(0, 100)));
  assert.equal((await c.nextFrame())!.toString(), 'OK 100');
}

const small = (dir: string, extra: BrokerOptions = {}): BrokerOptions => ({ dataDir: dir, segmentEntries: 10, ...extra });

/** A node on `options` and a connection to it, both closed after `fn`. */
async function session(options: BrokerOptions, fn: (c: RawClient, port: number) => Promise<void>): Promise<void> {
  const node = await startTestBroker(options);
  const c = await RawClient.connect(node.port);
  try {
    await fn(c, node.port);
  } finally {
    c.close();
    await node.close();
  }
}

for (const fsync of ['always', 'never'] as const) {
  test(`fsync ${fsync}: segments consumed past are deleted; the topic reads, writes and restarts with its cursor and counts`, async () => {
    await withDir(async (dir) => {
      await session(small(dir, { fsync }), async (c) => {
        await fill(c);
        assert.deepEqual(segments(dir), span(1, 11));
        assert.deepEqual(await batchGet(c, 35), range(0, 35));
        assert.equal(await c.request('REGISTER r'), 'OK'); // one more round trip: the deletions after that read ran
        assert.deepEqual(segments(dir), span(4, 11), 'segments 1-3 (entries 0-29) were consumed and deleted');
        const s = await state(c);
        assert.deepEqual(Object.keys(s.sealed_segments as object), ['4', '5', '6', '7', '8', '9', '10']);
        assert.deepEqual([s.current_segment, s.last_sealed_entry_offset, s.total_entries, s.read_cursor, s.lag], [11, 100, 100, 35, 65]);
        // Writes and reads go on as before, across more deletions.
        c.writeRaw(encodeBatchPut('r', range(100, 120)));
        assert.equal((await c.nextFrame())!.toString(), 'OK 20');
        assert.deepEqual(await batchGet(c, 40), range(35, 75));
        assert.equal(await c.request('REGISTER r'), 'OK');
        assert.deepEqual(segments(dir), span(8, 13));
      });
      const repairs: RecoveryRepair[] = [];
      await session(small(dir, { fsync, onRecoveryRepair: (r) => repairs.push(r) }), async (c) => {
        assert.deepEqual(repairs, [], 'the deleted segments are not reported missing');
        const s = await state(c);
        assert.deepEqual([s.current_segment, s.last_sealed_entry_offset, s.total_entries, s.read_cursor], [13, 120, 120, 75], 'counts survive the restart');
        assert.deepEqual(Object.keys(s.sealed_segments as object), ['8', '9', '10', '11', '12']);
        assert.deepEqual(await batchGet(c, 100), range(75, 120), 'every unread entry once, in order');
      });
      assert.deepEqual(segments(dir), [13]);
    });
  });
}

test('segmentBytes seals a segment by size too, so a consumed topic keeps at most about that much on disk', async () => {
  await withDir(async (dir) => {
    // 100-byte entries (8 header + 92 payload) after a 16-byte header: the 10th reaches 1,000 bytes.
    const big = (i: number): string => entry(i).padEnd(92, '.');
    await session({ dataDir: dir, segmentBytes: 1000 }, async (c) => {
      assert.equal(await c.request('REGISTER r'), 'OK');
      c.writeRaw(encodeBatchPut('r', Array.from({ length: 100 }, (_, i) => big(i))));
      assert.equal((await c.nextFrame())!.toString(), 'OK 100');
      const s = await state(c);
      assert.deepEqual([s.current_segment, (s.sealed_segments as Record<string, number>)['1']], [11, 10]);
      assert.deepEqual(await batchGet(c, 100), Array.from({ length: 100 }, (_, i) => big(i)));
      assert.equal(await c.request('REGISTER r'), 'OK');
      assert.deepEqual(segments(dir), [11]);
      // METRICS counts them: 10 files of 1,016 bytes (header + 10 entries of 100).
      const embedded = (JSON.parse(await c.request('METRICS')) as { embedded: Record<string, unknown> }).embedded;
      assert.deepEqual([embedded.segmentsDeleted, embedded.bytesDeleted], [10, 10 * 1016]);
    });
  });
});

test('entries under a live lease keep their segment, and every later one, until acknowledged or redelivered', async () => {
  await withDir(async (dir) => {
    await session(small(dir, { fsync: 'always' }), async (c, port) => {
      const leaser = await RawClient.connect(port);
      await fill(c);
      leaser.writeRaw(encodeBatchLease('r', 5));
      assert.match((await leaser.nextFrame())!.toString(), /^OK 1 5 /);
      assert.deepEqual(await batchGet(c, 40), range(5, 45));
      assert.equal(await c.request('REGISTER r'), 'OK');
      assert.deepEqual(segments(dir), span(1, 11), 'the lease on entries 0-4 holds segment 1, so nothing is deleted');
      // Its connection goes: the entries are redelivered from segment 1, which must still be there.
      leaser.close();
      while ((await state(c)).redeliver_entries !== 5) await new Promise((r) => setTimeout(r, 10)); // the node saw it close
      assert.deepEqual(await batchGet(c, 5), range(0, 5));
      assert.equal(await c.request('REGISTER r'), 'OK');
      assert.deepEqual(segments(dir), span(5, 11), 'once redelivered, segments 1-4 go');
    });
  });
});

test('a node stopped while a lease is open keeps every segment from the lease on and delivers it again', async () => {
  await withDir(async (dir) => {
    await session(small(dir, { fsync: 'always' }), async (c) => {
      await fill(c);
      assert.deepEqual(await batchGet(c, 25), range(0, 25));
      c.writeRaw(encodeBatchLease('r', 10));
      assert.match((await c.nextFrame())!.toString(), /^OK 1 10 /);
      assert.deepEqual(await batchGet(c, 30), range(35, 65));
    });
    assert.deepEqual(segments(dir), span(3, 11), 'segment 3 holds the leased entries 25-34');
    await session(small(dir), async (c) => {
      assert.deepEqual((await batchGet(c, 100)).slice(0, 11), [...range(25, 35), entry(35)], 'the lease is delivered again');
    });
  });
});

test('with volatile cursors consumed segments are kept: a restart reads every entry again', async () => {
  await withDir(async (dir) => {
    await session(small(dir, { persistCursors: false }), async (c) => {
      await fill(c);
      assert.deepEqual(await batchGet(c, 100), range(0, 100));
      assert.equal(await c.request('REGISTER r'), 'OK');
    });
    assert.deepEqual(segments(dir), span(1, 11));
    await session(small(dir, { persistCursors: false }), async (c) => {
      assert.deepEqual(await batchGet(c, 100), range(0, 100));
    });
  });
});

test('a cursor written before retention (WCP2) is honoured; the segments before it are deleted and still counted', async () => {
  await withDir(async (dir) => {
    await session(small(dir), async (c) => {
      await fill(c);
    });
    // WCP2: segment 4, the offset of its 3rd entry (entry 32; each is 8 + 4 bytes), crc32 of the first 20 bytes.
    const v2 = Buffer.alloc(24);
    v2.write('WCP2', 0, 'latin1');
    v2.writeBigUInt64LE(4n, 4);
    v2.writeBigUInt64LE(16n + 2n * 12n, 12);
    v2.writeUInt32LE(crc32(v2.subarray(0, 20)), 20);
    writeFileSync(join(dir, 'topics', 'r', 'cursor'), v2);
    await session(small(dir, { fsync: 'always' }), async (c) => {
      const s = await state(c);
      assert.deepEqual([s.total_entries, s.read_cursor], [100, 32]);
      assert.deepEqual(await batchGet(c, 3), range(32, 35));
      assert.deepEqual(segments(dir), span(4, 11), 'segments 1-3 went once the cursor was rewritten');
    });
    await session(small(dir), async (c) => {
      const s = await state(c);
      assert.deepEqual([s.total_entries, s.read_cursor], [100, 35], 'the rewritten cursor (WCP3) counts the deleted entries');
    });
  });
});

// A real kill at the retention step: the cursor past segments 1-3 is durable,
// then the process dies before deleting them, or after deleting only the first.
for (const fsync of ['always', 'never'] as const) {
  for (const point of ['broker.segments-unlinking', 'broker.segment-unlinked'] as const) {
    // The timeout turns a node that never reaches the point (it would not die) into a failure, not a hang.
    test(`kill -9 at ${point} (fsync ${fsync}): the restarted node has the same cursor, loses and repeats nothing, and finishes the deletion`, { timeout: 60_000 }, async () => {
      await withDir(async (dir) => {
        const { child, port } = await spawnBrokerProcess(['--data-dir', dir, '--fsync', fsync, '--segment-entries', '10'], { WALRUS_STREAM_FAULT: `${point}:1` });
        const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
        const c = await RawClient.connect(port);
        let received: string[];
        try {
          await fill(c);
          received = await batchGet(c, 35);
        } finally {
          c.close();
          setTimeout(() => child.kill('SIGKILL'), 20_000).unref(); // never left running
        }
        assert.equal(await exited, 'SIGKILL');
        assert.deepEqual(received, range(0, 35), 'the reply leaves before the deletion starts');
        assert.deepEqual(segments(dir), point === 'broker.segments-unlinking' ? span(1, 11) : span(2, 11));

        const repairs: RecoveryRepair[] = [];
        await session(small(dir, { fsync, onRecoveryRepair: (r) => repairs.push(r) }), async (d) => {
          assert.deepEqual(repairs, []);
          const s = await state(d);
          assert.deepEqual([s.total_entries, s.read_cursor], [100, 35], 'the same cursor and counts');
          assert.deepEqual(Object.keys(s.sealed_segments as object), ['4', '5', '6', '7', '8', '9', '10'], 'the segments left behind are not served');
          assert.deepEqual(await batchGet(d, 100), range(35, 100), 'no entry lost or repeated');
          assert.equal(await d.request('REGISTER r'), 'OK');
        });
        assert.deepEqual(segments(dir), [11], 'the leftovers were deleted once the cursor was synced');
      });
    });
  }
}
