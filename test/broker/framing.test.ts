import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { RawClient, lengthHeader, rawFrame } from '../helpers/raw-client.js';

const header = lengthHeader;
const frame = rawFrame;

describe('framing edge cases', () => {
  test('stock mode: an oversize length is answered and its body is read as new frames (stock quirk)', async () => {
    await withBroker({ compat: 'stock' }, async (node) => {
      const c = await RawClient.connect(node.port);
      c.writeRaw(Buffer.concat([header(65_537), frame('REGISTER q'), frame('STATE q')]));
      assert.equal(await c.next(), 'ERR invalid frame length');
      assert.equal(await c.next(), 'OK');
      assert.match(await c.next(), /^\{"current_segment":1/);
      c.close();
    });
  });

  test('default mode: an oversize length is answered, then the connection is closed unread', async () => {
    await withBroker(async (node) => {
      const c = await RawClient.connect(node.port);
      c.writeRaw(Buffer.concat([header(0xffff_ffff), frame('REGISTER q')]));
      assert.equal(await c.next(), 'ERR invalid frame length');
      await c.waitClosed();
      const other = await RawClient.connect(node.port);
      assert.equal(await other.request('STATE q'), 'ERR unknown topic q');
      other.close();
    });
  });

  test('frames received before a half-close are all answered, then the node closes', async () => {
    await withBroker(async (node) => {
      const c = await RawClient.connect(node.port);
      c.writeRaw(Buffer.concat([frame('REGISTER h'), frame('PUT h 1'), frame('GET h')]));
      c.endWrites();
      assert.equal(await c.next(), 'OK');
      assert.equal(await c.next(), 'OK');
      assert.equal(await c.next(), 'OK 1');
      await c.waitClosed();
    });
  });

  for (const [what, bytes] of [
    ['a header', Buffer.from([5, 0])],
    ['a body', Buffer.concat([header(10), Buffer.from('PUT')])],
  ] as const) {
    test(`EOF in the middle of ${what} closes without a reply`, async () => {
      await withBroker(async (node) => {
        const c = await RawClient.connect(node.port);
        c.writeRaw(Buffer.concat([frame('REGISTER e'), bytes]));
        c.endWrites();
        assert.equal(await c.next(), 'OK');
        assert.equal(await c.nextFrame(), undefined);
        assert.ok(c.closed);
      });
    });
  }
});
