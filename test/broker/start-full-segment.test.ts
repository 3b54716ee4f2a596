import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

// A node whose newest segment is full (its rollover failed before the stop: no room for the next
// segment file) rolled over while starting, so on a disk still full it refused to start at all
// instead of serving the entries it holds. The start now creates no segment file: the first
// append does (and, on a full disk, only that append fails).

test('a start with the newest segment full creates no segment file: reads work, the first append rolls over', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-start-full-'));
  try {
    const next = join(dataDir, 'topics', 'r', '00000000000000000002.seg');
    const first = await startTestBroker({ dataDir, segmentEntries: 2 });
    const c = await RawClient.connect(first.port);
    assert.equal(await c.request('REGISTER r'), 'OK');
    assert.equal(await c.request('PUT r a'), 'OK');
    assert.equal(await c.request('PUT r b'), 'OK');
    c.close();
    await first.close();
    await unlink(next); // as if its creation had failed (a full disk): segment 1 is full and the newest

    const second = await startTestBroker({ dataDir, segmentEntries: 2 });
    try {
      assert.equal(existsSync(next), false, 'the start wrote no new segment file');
      const d = await RawClient.connect(second.port);
      assert.equal((JSON.parse(await d.request('STATE r')) as { current_segment: number }).current_segment, 1);
      assert.equal(await d.request('GET r'), 'OK a');
      assert.equal(existsSync(next), false, 'a read writes no segment file either');
      assert.equal(await d.request('PUT r c'), 'OK');
      assert.equal(existsSync(next), true, 'the first append rolled over');
      assert.equal((JSON.parse(await d.request('STATE r')) as { current_segment: number }).current_segment, 2);
      assert.equal(await d.request('GET r'), 'OK b');
      assert.equal(await d.request('GET r'), 'OK c');
      assert.equal(await d.request('GET r'), 'EMPTY');
      d.close();
    } finally {
      await second.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
