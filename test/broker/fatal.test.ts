import assert from 'node:assert/strict';
import { closeSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

/** The descriptors this process holds on `path` (Linux /proc: these machines run Linux). */
function descriptorsOf(path: string): number[] {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === path;
      } catch {
        return false;
      }
    });
}

test('a failed write of acknowledged data stops the node: no reply, connections closed, `closed` settles with the failure', async () => {
  const node = await startTestBroker();
  const c = await RawClient.connect(node.port);
  try {
    assert.equal(await c.request('REGISTER f'), 'OK');
    assert.equal(await c.request('PUT f before'), 'OK');
    const segment = join(node.dataDir, 'topics', 'f', '00000000000000000001.seg');
    const fds = descriptorsOf(segment);
    assert.equal(fds.length, 1);
    // Pull the file out from under the node: its next write fails with EBADF.
    closeSync(fds[0]!);
    c.send('PUT f after');
    assert.equal(await c.nextFrame(), undefined, 'the PUT is not acknowledged');
    await node.closed;
    assert.match(node.failure?.message ?? '', /EBADF/);
  } finally {
    c.close();
    await node.close().catch(() => undefined);
  }
});
