import assert from 'node:assert/strict';
import { open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeBatchGet, encodeBatchLease, parseBatchGet } from '../../src/protocol/index.js';
import type { RecoveryRepair } from '../../src/broker/store/recovery-report.js';
import { startBrokerInWorker } from '../../src/broker/index.js';
import { startTestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { withTempDir } from '../helpers/temp-dir.js';

/**
 * The read cursor must stay on the same entry when recovery drops a
 * damaged entry before it (a count of entries would shift and skip intact,
 * never-read entries). Wholly consumed segments are deleted (retention),
 * so the damage is put in the consumed part of the segment the cursor is in.
 */

const entry = (i: number): string => `e${String(i).padStart(4, '0')}`;
const segmentPath = (dir: string, topic: string, n: number): string => join(dir, 'topics', topic, `${String(n).padStart(20, '0')}.seg`);

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('walrus-cursor-', fn);

/** 1,000 entries in segments of 100, the first `consumed` read with GET, then a clean stop. */
async function fill(dir: string, consumed: number): Promise<void> {
  const node = await startTestBroker({ dataDir: dir, segmentEntries: 100 });
  const c = await RawClient.connect(node.port);
  try {
    assert.equal(await c.request('REGISTER t'), 'OK');
    for (let i = 0; i < 1000; i++) c.send(`PUT t ${entry(i)}`);
    for (let i = 0; i < 1000; i++) assert.equal(await c.next(), 'OK');
    for (let i = 0; i < consumed; i++) assert.equal(await c.request('GET t'), `OK ${entry(i)}`);
  } finally {
    c.close();
    await node.close();
  }
}

/** Overwrites one byte at `at` of segment `n` (XOR 0x5a, so it always changes). */
async function flipByte(dir: string, n: number, at: number): Promise<void> {
  const file = await open(segmentPath(dir, 't', n), 'r+');
  const one = Buffer.alloc(1);
  await file.read(one, 0, 1, at);
  one[0] = one[0]! ^ 0x5a;
  await file.write(one, 0, 1, at);
  await file.close();
}

async function readAll(port: number): Promise<string[]> {
  const c = await RawClient.connect(port);
  const got: string[] = [];
  try {
    for (;;) {
      c.writeRaw(encodeBatchGet('t', 2000, 1 << 20));
      const frame = (await c.nextFrame())!;
      if (frame.toString() === 'EMPTY') return got;
      got.push(...parseBatchGet(frame).map((b) => b.toString()));
    }
  } finally {
    c.close();
  }
}

// Entry i of segment 2 (entries 100..199, 13 bytes each: 8 header + 5 payload) starts at 16 + 13 * (i - 100).
const ENTRY_BYTES = 13;

test('a damaged, consumed entry before the cursor: every unread entry is still delivered, none twice', async () => {
  await withDir(async (dir) => {
    await fill(dir, 350);
    await flipByte(dir, 4, 16 + ENTRY_BYTES * 20 + 10); // payload of entry 320, in the cursor's segment
    const repairs: RecoveryRepair[] = [];
    const node = await startTestBroker({ dataDir: dir, segmentEntries: 100, onRecoveryRepair: (r) => repairs.push(r) });
    try {
      const got = await readAll(node.port);
      assert.equal(got[0], entry(350), 'reading resumes at the first unread entry');
      assert.deepEqual(got, Array.from({ length: 650 }, (_, k) => entry(350 + k)));
      assert.deepEqual(repairs.map((r) => [r.kind, r.segment, r.offset, r.bytes]), [['dropped', 4, 16 + ENTRY_BYTES * 20, ENTRY_BYTES]]);
    } finally {
      await node.close();
    }
  });
});

test('a damaged length field: the scan finds the next entry, so only that entry is lost', async () => {
  await withDir(async (dir) => {
    await fill(dir, 120);
    await flipByte(dir, 2, 16 + ENTRY_BYTES * 50 + 1); // length of entry 150 becomes huge
    const node = await startTestBroker({ dataDir: dir, segmentEntries: 100, onRecoveryRepair: () => undefined });
    try {
      const got = await readAll(node.port);
      const expected = Array.from({ length: 880 }, (_, k) => entry(120 + k)).filter((e) => e !== entry(150));
      assert.deepEqual(got, expected);
      assert.equal(node.recovery?.droppedRegions, 1);
    } finally {
      await node.close();
    }
  });
});

test('the persisted hold of an unacknowledged lease stays on its entries across a drop before them', async () => {
  await withDir(async (dir) => {
    await fill(dir, 350);
    let node = await startTestBroker({ dataDir: dir, segmentEntries: 100 });
    const c = await RawClient.connect(node.port);
    c.writeRaw(encodeBatchLease('t', 10, 1 << 20));
    const leased = (await c.next()).split(' ');
    assert.equal(leased[0], 'OK');
    // Consume 20 more past the lease with GET: only the lease holds the cursor back.
    for (let i = 360; i < 380; i++) assert.equal(await c.request('GET t'), `OK ${entry(i)}`);
    c.close();
    await node.close();
    await flipByte(dir, 4, 16 + ENTRY_BYTES * 3 + 9);
    node = await startTestBroker({ dataDir: dir, segmentEntries: 100, onRecoveryRepair: () => undefined });
    try {
      const got = await readAll(node.port);
      assert.equal(got[0], entry(350), 'the unacknowledged lease is delivered again, from its first entry');
      assert.equal(got.length, 650);
    } finally {
      await node.close();
    }
  });
});

test('a cursor file from before positions (an entry count) is still honoured', async () => {
  await withDir(async (dir) => {
    await fill(dir, 0);
    const legacy = Buffer.alloc(16);
    legacy.writeBigUInt64LE(42n, 0);
    const { crc32 } = await import('../../src/broker/store/crc32.js');
    legacy.writeUInt32LE(crc32(legacy.subarray(0, 8)), 8);
    await writeFile(join(dir, 'topics', 't', 'cursor'), legacy);
    const node = await startTestBroker({ dataDir: dir, segmentEntries: 100 });
    try {
      const got = await readAll(node.port);
      assert.equal(got[0], entry(42));
      assert.equal(got.length, 958);
    } finally {
      await node.close();
    }
  });
});

test('a segment with a bad header is quarantined with a clear report; the node starts and serves the rest', async () => {
  await withDir(async (dir) => {
    await fill(dir, 50);
    const file = await open(segmentPath(dir, 't', 3), 'r+');
    await file.write(Buffer.from('NOTASEG!'), 0, 8, 0);
    await file.close();
    const repairs: RecoveryRepair[] = [];
    const node = await startTestBroker({ dataDir: dir, segmentEntries: 100, onRecoveryRepair: (r) => repairs.push(r) });
    try {
      assert.equal(repairs.length, 1);
      const [repair] = repairs;
      assert.equal(repair!.kind, 'quarantined');
      assert.equal(repair!.movedTo, `${segmentPath(dir, 't', 3)}.quarantined`);
      assert.match(repair!.message, /does not start with a segment header .* moved it aside to .*\.quarantined.* restore the file from a backup/);
      const names = await readdir(join(dir, 'topics', 't'));
      assert.ok(names.includes('00000000000000000003.seg.quarantined'));
      assert.ok(!names.includes('00000000000000000003.seg'));
      const got = await readAll(node.port);
      const expected = Array.from({ length: 950 }, (_, k) => entry(50 + k)).filter((e) => e < entry(200) || e >= entry(300));
      assert.deepEqual(got, expected);
      const c = await RawClient.connect(node.port);
      const state = JSON.parse(await c.request('STATE t')) as { recovery: { quarantined_segments: string[] }; sealed_segments: Record<string, number> };
      assert.deepEqual(state.recovery.quarantined_segments, [repair!.movedTo]);
      assert.equal(state.sealed_segments['3'], undefined);
      const metrics = JSON.parse(await c.request('METRICS')) as { embedded: { recovery: Record<string, number> } };
      assert.equal(metrics.embedded.recovery.quarantined_segments, 1);
      c.close();
    } finally {
      await node.close();
    }
  });
});

test('stock mode shows no recovery fields, even after a repair', async () => {
  await withDir(async (dir) => {
    await fill(dir, 0);
    await flipByte(dir, 1, 16 + 10);
    const node = await startTestBroker({ dataDir: dir, segmentEntries: 100, compat: 'stock', onRecoveryRepair: () => undefined });
    try {
      const c = await RawClient.connect(node.port);
      const state = await c.request('STATE t');
      assert.deepEqual(Object.keys(JSON.parse(state) as object), ['current_segment', 'leader_node', 'last_sealed_entry_offset', 'sealed_segments', 'segment_leaders']);
      assert.doesNotMatch(await c.request('METRICS'), /recovery|embedded/);
      c.close();
    } finally {
      await node.close();
    }
  });
});

test('a node on a worker thread reports repairs on the caller\'s thread and exposes them on its handle', async () => {
  await withDir(async (dir) => {
    await fill(dir, 0);
    await flipByte(dir, 4, 16 + ENTRY_BYTES * 7 + 10);
    const repairs: RecoveryRepair[] = [];
    const node = await startBrokerInWorker({ port: 0, dataDir: dir, segmentEntries: 100, fsync: 'never', onRecoveryRepair: (r) => repairs.push(r) });
    try {
      assert.deepEqual(repairs.map((r) => [r.kind, r.segment, r.offset]), [['dropped', 4, 16 + ENTRY_BYTES * 7]]);
      assert.equal(node.recovery?.droppedRegions, 1);
      assert.equal((await readAll(node.port)).length, 999);
    } finally {
      await node.close();
    }
  });
});

test('a torn last entry whose payload holds bytes shaped like an entry: recovery cuts it, and never serves the entry found inside it', async () => {
  const { crc32 } = await import('../../src/broker/store/crc32.js');
  const { truncate, stat } = await import('node:fs/promises');
  // A payload a client may PUT holding a valid (length, crc32, bytes) entry, all of it ASCII (valid UTF-8).
  let forged = '';
  const crc = Buffer.alloc(4);
  for (let i = 0; ; i++) {
    forged = `FORGED-ENTRY-${i}`;
    crc.writeUInt32LE(crc32(Buffer.from(forged)));
    if (crc.every((b) => b < 0x80)) break;
  }
  const len = Buffer.alloc(4);
  len.writeUInt32LE(forged.length);
  const inner = Buffer.concat([len, crc, Buffer.from(forged)]);
  await withDir(async (dir) => {
    let node = await startTestBroker({ dataDir: dir, fsync: 'always' });
    const c = await RawClient.connect(node.port);
    assert.equal(await c.request('REGISTER t'), 'OK');
    assert.equal(await c.request('PUT t first'), 'OK');
    assert.equal(await c.request(Buffer.concat([Buffer.from('PUT t harmless '), inner, Buffer.from(' tail'.repeat(20))])), 'OK');
    c.close();
    await node.close();
    // The second PUT's last 10 bytes never reached the disk (a crash mid-write).
    const seg = segmentPath(dir, 't', 1);
    await truncate(seg, (await stat(seg)).size - 10);
    node = await startTestBroker({ dataDir: dir, onRecoveryRepair: () => undefined });
    try {
      const d = await RawClient.connect(node.port);
      assert.equal(await d.request('GET t'), 'OK first');
      assert.equal(await d.request('GET t'), 'EMPTY', 'the torn entry is cut, and nothing found inside it is served');
      d.close();
    } finally {
      await node.close();
    }
  });
});
