import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startBroker } from '../../src/broker/index.js';
import { encodeBatchGet, encodeBatchPut, parseBatchGet } from '../../src/protocol/index.js';
import { RawClient } from '../helpers/raw-client.js';

/**
 * A memory-only node (no dataDir) let go of consumed payloads but kept a
 * slot for every entry ever written (8 bytes each: 10,000 entries a second
 * is 6.9 GB a day), and STATE listed every segment ever sealed, building a
 * list of all of them on each call.
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Writes and reads back `count` one-byte entries in batches of 2,000, checking each comes back in order. */
async function writeAndConsume(c: RawClient, count: number): Promise<void> {
  const batch = Array.from({ length: 2000 }, () => 'x');
  for (let done = 0; done < count; done += 2000) {
    c.writeRaw(encodeBatchPut('m', batch));
    assert.equal(await c.next(), 'OK 2000');
    c.writeRaw(encodeBatchGet('m', 2000));
    assert.equal(parseBatchGet((await c.nextFrame())!).length, 2000);
  }
}

test('memory-only node: consumed entries give their memory back, and STATE lists only segments still held', async () => {
  const node = await startBroker({ port: 0, segmentEntries: 1000 });
  const c = await RawClient.connect(node.port);
  try {
    assert.equal(await c.request('REGISTER m'), 'OK');
    await writeAndConsume(c, 200_000); // warm up
    const before = heapAfterGc();
    await writeAndConsume(c, 4_000_000);
    const grown = heapAfterGc() - before;
    // Before: 4,000,000 slots of 8 bytes, 32 MB, stayed.
    assert.ok(grown < 12 * 1024 * 1024, `heap grew by ${grown} bytes after 4,000,000 entries were written and consumed`);

    const state = JSON.parse(await c.request('STATE m')) as Record<string, unknown> & { sealed_segments: Record<string, number> };
    // Before: all 4,200 segments ever sealed ("1":1000 ... "4200":1000).
    assert.deepEqual(state.sealed_segments, {});
    assert.equal(state.last_sealed_entry_offset, 4_200_000);
    assert.equal(state.total_entries, 4_200_000);
    assert.equal(state.lag, 0);

    // A partly read segment stays listed; entries after it are all still served, in order.
    c.writeRaw(encodeBatchPut('m', Array.from({ length: 1500 }, (_, i) => `e${i}`)));
    assert.equal(await c.next(), 'OK 1500');
    assert.equal(await c.request('GET m'), 'OK e0');
    const partly = JSON.parse(await c.request('STATE m')) as { sealed_segments: Record<string, number>; current_segment: number };
    assert.deepEqual(partly.sealed_segments, { 4201: 1000 });
    assert.equal(partly.current_segment, 4202);
    c.writeRaw(encodeBatchGet('m', 2000));
    assert.deepEqual(parseBatchGet((await c.nextFrame())!).map(String), Array.from({ length: 1499 }, (_, i) => `e${i + 1}`));
  } finally {
    c.close();
    await node.close();
  }
});
