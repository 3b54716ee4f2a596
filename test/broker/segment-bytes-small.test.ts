import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { withTempDir } from '../helpers/temp-dir.js';

interface State { current_segment: number; sealed_segments: Record<string, number>; total_entries: number }

async function segmentFiles(dataDir: string): Promise<number> {
  return (await readdir(join(dataDir, 'topics', 't'))).filter((f) => f.endsWith('.seg')).length;
}

for (const segmentBytes of [1, 16]) {
  test(`segmentBytes ${segmentBytes} (a segment header alone reaches it) seals one entry per segment, never an empty one, across a restart`, async () => {
    await withTempDir('walrus-segment-bytes-', async (dataDir) => {
      let node = await startTestBroker({ dataDir, segmentBytes });
      try {
        const c = await RawClient.connect(node.port);
        assert.equal(await c.request('REGISTER t'), 'OK');
        for (let i = 0; i < 3; i++) assert.equal(await c.request(`PUT t e${i}`), 'OK');
        const state = JSON.parse(await c.request('STATE t')) as State;
        // Before: the empty segment's 16-byte header already counted as full, so an empty sealed segment
        // came before every entry ({"2":1,"3":0,"4":1,"5":0,...}): two files per entry.
        assert.deepEqual(state.sealed_segments, { 1: 1, 2: 1, 3: 1 });
        assert.equal(state.current_segment, 4);
        assert.equal(await segmentFiles(dataDir), 4);
        c.close();
      } finally {
        await node.close();
      }

      node = await startTestBroker({ dataDir, segmentBytes });
      try {
        const c = await RawClient.connect(node.port);
        for (let i = 3; i < 5; i++) assert.equal(await c.request(`PUT t e${i}`), 'OK');
        const state = JSON.parse(await c.request('STATE t')) as State;
        assert.deepEqual(state.sealed_segments, { 1: 1, 2: 1, 3: 1, 4: 1, 5: 1 });
        assert.equal(state.total_entries, 5);
        assert.equal(await segmentFiles(dataDir), 6);
        for (let i = 0; i < 5; i++) assert.equal(await c.request('GET t'), `OK e${i}`);
        assert.equal(await c.request('GET t'), 'EMPTY');
        c.close();
      } finally {
        await node.close();
      }
    });
  });
}
