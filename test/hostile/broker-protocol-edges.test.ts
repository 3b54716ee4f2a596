import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

/**
 * Protocol edges of the embedded node found by probing it from outside
 * (raw TCP to a node on port 0 in a temp dir): each test failed before its fix.
 */

function header(length: number): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(length, 0);
  return h;
}

function frame(body: string): Buffer {
  const b = Buffer.from(body);
  return Buffer.concat([header(b.length), b]);
}

describe('embedded node: protocol edges', () => {
  test('an oversize length after a pipeline that stalled the connection is answered, then the connection is closed', async () => {
    // A small reply bound makes the pipeline stall many times before the bad header is reached.
    await withBroker({ maxUnsentReplyBytes: 4096 }, async (node) => {
      const c = await RawClient.connect(node.port);
      const requests = 2_000;
      c.writeRaw(Buffer.concat([...Array.from({ length: requests }, () => frame('METRICS')), header(100_000), Buffer.alloc(64)]));
      for (let i = 0; i < requests; i++) assert.match(await c.next(), /^\{\n {2}"running_state"/);
      assert.equal(await c.next(), 'ERR invalid frame length');
      // Before: the stall flag of the pipeline stayed set, so the node never closed it (until the idle timeout).
      assert.equal(await c.nextFrame(), undefined);
      assert.equal(c.closed, true);
      const other = await RawClient.connect(node.port);
      assert.equal(await other.request('REGISTER q'), 'OK');
      other.close();
    });
  });
});
