import assert from 'node:assert/strict';
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { BrokerOptions } from '../../src/broker/index.js';
import type { RecoveryRepair } from '../../src/broker/store/recovery-report.js';
import { createSegment } from '../../src/broker/store/file-topic-log.js';
import { segmentHeader } from '../../src/broker/store/segment-format.js';
import { topicDirName } from '../../src/broker/store/topic-dirs.js';
import { startTestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { withTempDir } from '../helpers/temp-dir.js';

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('walrus-topic-meta-', fn);

/** Starts a node on `dir`, runs `fn` with a client and the repairs it reported, and stops it. */
async function session(dir: string, fn: (c: RawClient, repairs: RecoveryRepair[]) => Promise<void>, options: BrokerOptions = {}): Promise<void> {
  const repairs: RecoveryRepair[] = [];
  const node = await startTestBroker({ ...options, dataDir: dir, onRecoveryRepair: (r) => repairs.push(r) });
  const c = await RawClient.connect(node.port);
  try {
    await fn(c, repairs);
  } finally {
    c.close();
    await node.close();
  }
}

async function fill(dir: string, topic: string, count: number): Promise<void> {
  await session(dir, async (c) => {
    assert.equal(await c.request(`REGISTER ${topic}`), 'OK');
    for (let i = 0; i < count; i++) assert.equal(await c.request(`PUT ${topic} e${i}`), 'OK');
  });
}

async function drain(c: RawClient, topic: string): Promise<string[]> {
  const got: string[] = [];
  for (let reply = await c.request(`GET ${topic}`); reply !== 'EMPTY'; reply = await c.request(`GET ${topic}`)) got.push(reply);
  return got;
}

const expected = (count: number): string[] => Array.from({ length: count }, (_, i) => `OK e${i}`);

for (const damage of ['empty', 'missing', 'garbage'] as const) {
  test(`a ${damage} topic.json of a plain-named topic is rebuilt and reported; no entry is lost`, async () => {
    await withDir(async (dir) => {
      await fill(dir, 'tj', 20);
      const topicDir = join(dir, 'topics', 'tj');
      const segment = join(topicDir, '00000000000000000001.seg');
      const before = await readFile(segment);
      if (damage === 'missing') await rm(join(topicDir, 'topic.json'));
      else await writeFile(join(topicDir, 'topic.json'), damage === 'empty' ? '' : '{"na');
      await session(dir, async (c, repairs) => {
        assert.deepEqual(repairs.map((r) => [r.kind, r.topic, r.file]), [['topic-rebuilt', 'tj', join(topicDir, 'topic.json')]]);
        assert.match(repairs[0]!.message, /topic\.json was missing or damaged .* rebuilt it for topic "tj"/);
        const state = JSON.parse(await c.request('STATE tj')) as { total_entries: number; recovery?: Record<string, unknown> };
        assert.equal(state.total_entries, 20);
        assert.equal(state.recovery?.topic_json_rebuilt, true);
        const metrics = JSON.parse(await c.request('METRICS')) as { embedded: { recovery: Record<string, number> } };
        assert.equal(metrics.embedded.recovery.rebuilt_topics, 1);
        assert.equal(metrics.embedded.recovery.skipped_dirs, 0);
        // The REGISTER every client sends first must not touch the segment.
        assert.equal(await c.request('REGISTER tj'), 'OK');
        assert.deepEqual(await drain(c, 'tj'), expected(20));
      });
      assert.ok((await readFile(segment)).subarray(0, before.length).equals(before));
      assert.deepEqual(JSON.parse(await readFile(join(topicDir, 'topic.json'), 'utf8')), { name: 'tj' });
    });
  });
}

test('a damaged topic.json of a hashed-name topic: the directory is quarantined intact and reported; REGISTER starts empty', async () => {
  await withDir(async (dir) => {
    const topic = 'Orders:EU';
    const dirName = topicDirName(topic);
    await fill(dir, topic, 5);
    const topicDir = join(dir, 'topics', dirName);
    const before = await readFile(join(topicDir, '00000000000000000001.seg'));
    await writeFile(join(topicDir, 'topic.json'), '');
    const movedTo = join(dir, 'quarantined', dirName);
    await session(dir, async (c, repairs) => {
      assert.deepEqual(repairs.map((r) => [r.kind, r.topic, r.file, r.movedTo]), [['topic-quarantined', dirName, topicDir, movedTo]]);
      assert.match(repairs[0]!.message, /no usable topic\.json .* moved it aside to .*quarantined.* write \{"name"/);
      const metrics = JSON.parse(await c.request('METRICS')) as { embedded: { recovery: Record<string, number> } };
      assert.equal(metrics.embedded.recovery.quarantined_topics, 1);
      assert.equal(await c.request(`REGISTER ${topic}`), 'OK');
      assert.equal(await c.request(`GET ${topic}`), 'EMPTY');
      assert.equal(await c.request(`PUT ${topic} fresh`), 'OK');
    });
    assert.ok((await readFile(join(movedTo, '00000000000000000001.seg'))).equals(before));
    // Restoring it as the message says (after dropping the new, empty one) brings every entry back.
    await rm(topicDir, { recursive: true });
    await writeFile(join(movedTo, 'topic.json'), JSON.stringify({ name: topic }));
    await rename(movedTo, topicDir);
    await session(dir, async (c, repairs) => {
      assert.deepEqual(repairs, []);
      assert.deepEqual(await drain(c, topic), expected(5));
    });
  });
});

test('an unfinished REGISTER (no topic.json, header-only segment) is still skipped and completed by the next REGISTER', async () => {
  await withDir(async (dir) => {
    const topicDir = join(dir, 'topics', 'half');
    await mkdir(topicDir, { recursive: true });
    await writeFile(join(topicDir, '00000000000000000001.seg'), segmentHeader(1));
    await session(dir, async (c, repairs) => {
      assert.deepEqual(repairs, []);
      const metrics = JSON.parse(await c.request('METRICS')) as { embedded: { recovery: Record<string, number> } };
      assert.equal(metrics.embedded.recovery.skipped_dirs, 1);
      assert.equal(await c.request('REGISTER half'), 'OK');
      assert.equal(await c.request('PUT half x'), 'OK');
      assert.equal(await c.request('GET half'), 'OK x');
    });
    assert.deepEqual((await readdir(topicDir)).sort(), ['00000000000000000001.seg', 'cursor', 'topic.json']);
  });
});

test('creating a segment never truncates a file that holds entries', async () => {
  await withDir(async (dir) => {
    const path = join(dir, '00000000000000000001.seg');
    const content = Buffer.concat([segmentHeader(1), Buffer.from('an entry that must survive')]);
    await writeFile(path, content);
    assert.throws(() => createSegment(path, 1), /refusing to overwrite segment file .* holds 42 bytes/);
    assert.ok((await readFile(path)).equals(content));
  });
});

const small: BrokerOptions = { segmentEntries: 5 };

test('a segment file missing from the middle of a topic is reported (which one, how many entries), not skipped silently', async () => {
  await withDir(async (dir) => {
    await session(dir, async (c) => {
      assert.equal(await c.request('REGISTER ts'), 'OK');
      for (let i = 0; i < 20; i++) assert.equal(await c.request(`PUT ts e${i}`), 'OK');
    }, small);
    const segment2 = join(dir, 'topics', 'ts', '00000000000000000002.seg');
    await rename(segment2, join(dir, 'lost.seg'));
    await session(dir, async (c, repairs) => {
      assert.deepEqual(repairs.map((r) => [r.kind, r.topic, r.segment, r.file, r.entries]), [['missing', 'ts', 2, segment2, 5]]);
      assert.match(repairs[0]!.message, /topic "ts" segment 2 .* is missing .* its entries \(5, if segmentEntries was the same/);
      const state = JSON.parse(await c.request('STATE ts')) as { recovery?: Record<string, unknown> };
      assert.deepEqual(state.recovery?.missing_segments, [2]);
      const metrics = JSON.parse(await c.request('METRICS')) as { embedded: { recovery: Record<string, number> } };
      assert.equal(metrics.embedded.recovery.missing_segments, 1);
      const served = JSON.parse(await c.request('STATE ts')) as { total_entries: number; sealed_segments: Record<string, number> };
      assert.deepEqual([served.total_entries, served.sealed_segments], [15, { 1: 5, 3: 5, 4: 5 }], 'served without it');
      for (let i = 0; i < 3; i++) assert.equal(await c.request('GET ts'), `OK e${i}`);
    }, small);
    // Put back as the message says, before the cursor passed it: no repair, its entries are there again.
    await rename(join(dir, 'lost.seg'), segment2);
    await session(dir, async (c, repairs) => {
      assert.deepEqual(repairs, []);
      const state = JSON.parse(await c.request('STATE ts')) as { total_entries: number };
      assert.equal(state.total_entries, 20);
      const got: string[] = [];
      for (let i = 3; i < 20; i++) got.push(await c.request('GET ts'));
      assert.deepEqual(got, Array.from({ length: 17 }, (_, k) => `OK e${k + 3}`));
    }, small);
  });
});

for (const damage of ['newer format (WCP9)', 'flipped byte'] as const) {
  test(`a cursor file with a ${damage} is reported as a cursor-reset repair; the topic is read again from its start`, async () => {
    await withDir(async (dir) => {
      await fill(dir, 'tc', 20);
      await session(dir, async (c) => {
        for (let i = 0; i < 15; i++) assert.equal(await c.request('GET tc'), `OK e${i}`);
      });
      const cursor = join(dir, 'topics', 'tc', 'cursor');
      const file = await open(cursor, 'r+');
      if (damage === 'flipped byte') await file.write(Buffer.from([0xff]), 0, 1, 6);
      else await file.write(Buffer.from('WCP9'), 0, 4, 0);
      await file.close();
      await session(dir, async (c, repairs) => {
        assert.deepEqual(repairs.map((r) => [r.kind, r.topic, r.file, r.bytes]), [['cursor-reset', 'tc', cursor, 32]]);
        assert.match(repairs[0]!.message, /read cursor of topic "tc" .* damaged or of an unknown format; the topic is read again from its first entry/);
        const state = JSON.parse(await c.request('STATE tc')) as { recovery?: Record<string, unknown> };
        assert.equal(state.recovery?.cursor_reset, true);
        const metrics = JSON.parse(await c.request('METRICS')) as { embedded: { recovery: Record<string, number> } };
        assert.equal(metrics.embedded.recovery.cursor_resets, 1);
        assert.deepEqual(await drain(c, 'tc'), expected(20));
      });
    });
  });
}
