import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { RawClient, lengthHeader, rawFrame } from '../helpers/raw-client.js';
import { MAX_NAME_LENGTH } from '../../src/broker/commands.js';

/**
 * Protocol edges of the embedded node found by probing it from outside
 * (raw TCP to a node on port 0 in a temp dir): each test failed before its fix.
 */

const header = lengthHeader;
const frame = rawFrame;

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

  for (const compat of ['default', 'stock'] as const) {
    test(`${compat} mode: "unknown topic" for a name longer than any topic fits a reply frame and says what was wrong`, async () => {
      await withBroker({ compat }, async (node) => {
        const c = await RawClient.connect(node.port);
        const topic = 'n'.repeat(65_000);
        const requests = compat === 'stock'
          ? [`PUT ${topic} x`, `GET ${topic}`, `STATE ${topic}`]
          : [`PUT ${topic} x`, `GET ${topic}`, `STATE ${topic}`, `BATCH_PUT ${topic} 1 1 x`, `BATCH_GET ${topic} 1 1`, `BATCH_LEASE ${topic} 1 1`, `ACK ${topic} 1`, `RELEASE ${topic}`];
        for (const request of requests) {
          c.send(request);
          const reply = (await c.nextFrame())!;
          // Before: the whole name came back (a 65,018-byte reply).
          assert.ok(reply.length <= 200, `${request.split(' ')[0]}: ${reply.length}-byte reply`);
          assert.equal(reply.toString(), `ERR unknown topic ${'n'.repeat(64)}... (65000 characters; no topic is longer than ${MAX_NAME_LENGTH})`);
        }
        // The longest name that still fits a request: the reply used to be 65,550 bytes, more than any client may accept.
        const longest = 'm'.repeat(65_536 - 'GET '.length);
        c.send(`GET ${longest}`);
        const reply = (await c.nextFrame())!;
        assert.ok(reply.length <= 65_536, `${reply.length}-byte reply frame`);
        assert.match(reply.toString(), /^ERR unknown topic m{64}\.\.\. \(65532 characters; no topic is longer than 1024\)$/);
        // Names a topic can have are echoed exactly, as the stock node does.
        const named = 'é'.repeat(MAX_NAME_LENGTH);
        assert.equal(await c.request(`GET ${named}`), `ERR unknown topic ${named}`);
        assert.equal(await c.request('GET nope'), 'ERR unknown topic nope');
        c.close();
      });
    });
  }
});
