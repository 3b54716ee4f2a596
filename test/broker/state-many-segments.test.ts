import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeBatchGet, encodeBatchPut, parseBatchGet } from '../../src/protocol/index.js';
import { WalrusClient } from '../../src/client/index.js';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

/**
 * STATE lists every sealed segment the node still has. A reader far behind
 * on small segments (here `segmentEntries: 1`; in practice, say, 1 MiB
 * segments and a few GB of lag) made that list longer than one 65,536-byte
 * frame, and walrus-stream's own client refused the reply (PROTOCOL_ERROR,
 * connection retired): lag monitoring broke exactly when the lag was large.
 */

async function put(c: RawClient, count: number): Promise<void> {
  assert.equal(await c.request('REGISTER t'), 'OK');
  for (let at = 0; at < count; at += 2000) {
    c.writeRaw(encodeBatchPut('t', Array.from({ length: 2000 }, (_, i) => `e${at + i}`)));
    assert.equal(await c.next(30_000), 'OK 2000');
  }
}

test('default mode: STATE of a topic with more sealed segments than a frame can list leaves the oldest out and says how many', async () => {
  await withBroker({ segmentEntries: 1 }, async (node) => {
    const c = await RawClient.connect(node.port);
    await put(c, 4000);
    c.send('STATE t');
    const reply = (await c.nextFrame())!;
    // Before: a 69,955-byte reply.
    assert.ok(reply.length <= 65_536, `${reply.length}-byte STATE`);
    const state = JSON.parse(reply.toString()) as Record<string, unknown> & { sealed_segments: Record<string, number>; segment_leaders: Record<string, number> };
    const listed = Object.keys(state.sealed_segments).map(Number);
    assert.ok(listed.length > 1000, `${listed.length} listed`);
    assert.equal(state.sealed_segments_omitted, 4000 - listed.length);
    // The newest are listed, each once in both maps, with their counts; the totals still count every entry.
    assert.deepEqual(listed, Array.from({ length: listed.length }, (_, i) => 4000 - listed.length + 1 + i));
    assert.ok(Object.values(state.sealed_segments).every((n) => n === 1));
    assert.deepEqual(Object.keys(state.segment_leaders).map(Number), [...listed, 4001]);
    assert.equal(state.current_segment, 4001);
    assert.equal(state.last_sealed_entry_offset, 4000);
    assert.equal(state.total_entries, 4000);
    assert.equal(state.lag, 4000);

    // walrus-stream's client reads it.
    const client = new WalrusClient({ nodes: [node.address] });
    try {
      const info = await client.state('t');
      assert.equal(info.lag, 4000);
      assert.equal(Object.keys(info.sealedSegments).length, listed.length);
    } finally {
      await client.close();
    }

    // Once retention let the consumed segments go, everything fits again, without the extra field.
    let read = 0;
    while (read < 3500) {
      c.writeRaw(encodeBatchGet('t', 500));
      read += parseBatchGet((await c.nextFrame())!).length;
    }
    const after = JSON.parse(await c.request('STATE t')) as Record<string, unknown> & { sealed_segments: Record<string, number> };
    assert.equal(after.sealed_segments_omitted, undefined);
    assert.equal(Object.keys(after.sealed_segments).length, 500);
    assert.equal(after.lag, 500);
    c.close();
  });
});

test('stock mode: STATE lists every sealed segment, as a stock node does, whatever its length', async () => {
  await withBroker({ segmentEntries: 1, compat: 'stock' }, async (node) => {
    const c = await RawClient.connect(node.port);
    assert.equal(await c.request('REGISTER t'), 'OK');
    for (let i = 0; i < 4000; i++) c.send(`PUT t e${i}`);
    for (let i = 0; i < 4000; i++) assert.equal(await c.next(30_000), 'OK');
    const state = JSON.parse(await c.request('STATE t')) as { sealed_segments: Record<string, number> };
    assert.equal(Object.keys(state.sealed_segments).length, 4000);
    assert.deepEqual(Object.keys(state).sort(), ['current_segment', 'last_sealed_entry_offset', 'leader_node', 'sealed_segments', 'segment_leaders']);
    c.close();
  });
});
