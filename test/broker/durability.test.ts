import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeBatchGet, encodeBatchPut, parseBatchGet } from '../../src/protocol/index.js';
import type { RecoveryRepair } from '../../src/broker/store/recovery-report.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

/** Restarts on the same data dir, in process (clean shutdown); kill -9 lives in crash.test.ts. */
describe('durable storage', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'walrus-durable-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  async function session<T>(options: Parameters<typeof startTestBroker>[0], fn: (c: RawClient, node: TestBroker) => Promise<T>): Promise<T> {
    const node = await startTestBroker({ dataDir, ...options });
    const c = await RawClient.connect(node.port);
    try {
      return await fn(c, node);
    } finally {
      c.close();
      await node.close();
    }
  }

  test('entries, topics and the read cursor survive a restart', async () => {
    await session({ fsync: 'always' }, async (c) => {
      assert.equal(await c.request('REGISTER d'), 'OK');
      assert.equal(await c.request('REGISTER Upper:Case'), 'OK');
      for (let i = 0; i < 5; i++) assert.equal(await c.request(`PUT d e${i}`), 'OK');
      assert.equal(await c.request('PUT Upper:Case ü'), 'OK');
      assert.equal(await c.request('GET d'), 'OK e0');
      assert.equal(await c.request('GET d'), 'OK e1');
    });
    await session({}, async (c) => {
      assert.equal(await c.request('GET d'), 'OK e2');
      assert.equal(await c.request('GET Upper:Case'), 'OK ü');
      const state = JSON.parse(await c.request('STATE d')) as Record<string, number>;
      assert.equal(state.total_entries, 5);
      assert.equal(state.read_cursor, 3);
    });
  });

  test('volatile cursors start from the beginning after a restart, like the stock node', async () => {
    await session({ persistCursors: false }, async (c) => {
      assert.equal(await c.request('GET d'), 'OK e0');
    });
  });

  test('segments roll over at segmentEntries and STATE reports sealed segments', async () => {
    await session({ segmentEntries: 3 }, async (c) => {
      await c.request('REGISTER roll');
      c.writeRaw(encodeBatchPut('roll', ['1', '2', '3', '4', '5', '6', '7']));
      assert.equal(await c.next(), 'OK 7');
      const text = await c.request('STATE roll');
      assert.equal(
        text,
        '{"current_segment":3,"leader_node":1,"last_sealed_entry_offset":6,"sealed_segments":{"1":3,"2":3},"segment_leaders":{"1":1,"2":1,"3":1},"total_entries":7,"read_cursor":0,"lag":7}',
      );
    });
    const files = (await readdir(join(dataDir, 'topics', 'roll'))).filter((f) => f.endsWith('.seg'));
    assert.equal(files.length, 3);
    await session({ segmentEntries: 3, compat: 'stock' }, async (c) => {
      assert.equal(
        await c.request('STATE roll'),
        '{"current_segment":3,"leader_node":1,"last_sealed_entry_offset":6,"sealed_segments":{"1":3,"2":3},"segment_leaders":{"1":1,"2":1,"3":1}}',
      );
      const got: string[] = [];
      for (let i = 0; i < 8; i++) got.push(await c.request('GET roll'));
      assert.deepEqual(got, ['OK 1', 'OK 2', 'OK 3', 'OK 4', 'OK 5', 'OK 6', 'OK 7', 'EMPTY']);
    });
  });

  test('a torn tail is truncated on start and appends continue after the last good entry', async () => {
    await session({}, async (c) => {
      await c.request('REGISTER torn');
      for (const m of ['good-1', 'good-2', 'good-3']) await c.request(`PUT torn ${m}`);
    });
    const segment = join(dataDir, 'topics', 'torn', '00000000000000000001.seg');
    const clean = (await stat(segment)).size;
    // A half-written entry: its header promises 100 bytes, 4 arrive.
    const torn = Buffer.alloc(12);
    torn.writeUInt32LE(100, 0);
    await appendFile(segment, torn);
    await session({}, async (c, node) => {
      assert.equal((await stat(segment)).size, clean);
      assert.equal(await c.request('PUT torn after'), 'OK');
      const got = [];
      for (let i = 0; i < 5; i++) got.push(await c.request('GET torn'));
      assert.deepEqual(got, ['OK good-1', 'OK good-2', 'OK good-3', 'OK after', 'EMPTY']);
      assert.ok(node.stats().topics >= 1);
    });
  });

  test('an entry whose checksum does not match is dropped alone and reported; the entries after it are kept', async () => {
    await session({}, async (c) => {
      await c.request('REGISTER crc');
      for (const m of ['keep', 'flip', 'after']) await c.request(`PUT crc ${m}`);
    });
    const segment = join(dataDir, 'topics', 'crc', '00000000000000000001.seg');
    const { open } = await import('node:fs/promises');
    const file = await open(segment, 'r+');
    // header 16 + entry "keep" (8 + 4) → "flip" payload starts at 16 + 12 + 8.
    await file.write(Buffer.from('F'), 0, 1, 16 + 12 + 8);
    await file.close();
    const repairs: RecoveryRepair[] = [];
    await session({ onRecoveryRepair: (r) => repairs.push(r) }, async (c, node) => {
      assert.equal(await c.request('GET crc'), 'OK keep');
      assert.equal(await c.request('GET crc'), 'OK after');
      assert.equal(await c.request('GET crc'), 'EMPTY');
      assert.equal(node.recovery?.droppedRegions, 1);
      const state = JSON.parse(await c.request('STATE crc')) as { recovery?: Record<string, unknown> };
      assert.deepEqual(state.recovery, { dropped_regions: 1, dropped_bytes: 12, truncated_bytes: 0, quarantined_segments: [] });
    });
    assert.equal(repairs.length, 1);
    assert.deepEqual({ ...repairs[0], message: undefined }, { kind: 'dropped', topic: 'crc', segment: 1, file: segment, offset: 28, bytes: 12, message: undefined });
    assert.match(repairs[0]!.message, /dropped 12 damaged bytes at offset 28 of topic "crc" segment 1/);
    // A segment cut inside its header is rewritten (and reported), not fatal.
    await truncate(segment, 5);
    const rewritten: RecoveryRepair[] = [];
    await session({ onRecoveryRepair: (r) => rewritten.push(r) }, async (c) => {
      assert.deepEqual(rewritten.map((r) => [r.kind, r.segment, r.bytes]), [['header-rewritten', 1, 5]]);
      assert.equal(await c.request('PUT crc again'), 'OK');
      assert.equal(await c.request('GET crc'), 'OK again');
    });
  });

  test('entries read back from files across read-ahead blocks are exact', async () => {
    const entry = (i: number): string => `${String(i).padStart(6, '0')}-${'r'.repeat(90 + (i % 17))}`;
    await session({}, async (c) => {
      await c.request('REGISTER blocks');
      for (let from = 0; from < 3000; from += 500) {
        c.writeRaw(encodeBatchPut('blocks', Array.from({ length: 500 }, (_, k) => entry(from + k))));
        assert.equal(await c.next(), 'OK 500');
      }
    });
    await session({}, async (c) => {
      const got: string[] = [];
      while (got.length < 3000) {
        c.writeRaw(encodeBatchGet('blocks', 2000, 1 << 20));
        const batch = parseBatchGet((await c.nextFrame())!);
        assert.ok(batch.length > 0);
        got.push(...batch.map((b) => b.toString()));
      }
      assert.deepEqual(got, Array.from({ length: 3000 }, (_, i) => entry(i)));
    });
  });

  test('a storage failure fails only that request, with an ERR naming it', async () => {
    await session({}, async (c) => {
      // A plain file where the topic's directory should go makes REGISTER fail.
      await appendFile(join(dataDir, 'topics', 'blocked'), 'not a directory');
      assert.match(await c.request('REGISTER blocked'), /^ERR storage error: .*(EEXIST|ENOTDIR)/);
      assert.equal(await c.request('PUT blocked x'), 'ERR unknown topic blocked');
      assert.equal(await c.request('REGISTER fine'), 'OK');
    });
    await rm(join(dataDir, 'topics', 'blocked'));
  });

  test('a second node on the same data dir is refused with a clear error', async () => {
    const node = await startTestBroker({ dataDir });
    try {
      await assert.rejects(startTestBroker({ dataDir }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.match(error.message, /broker data directory \(.+\) is already open in this process/);
        return true;
      });
    } finally {
      await node.close();
    }
  });
});
