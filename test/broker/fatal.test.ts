import assert from 'node:assert/strict';
import { closeSync, readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

// A full disk: writes to /dev/full fail with ENOSPC. Node's error for a write through a descriptor
// said only "ENOSPC: no space left on device, write": no file, no data dir, nothing to do.
test('a full disk stops the node with a failure naming the file, the data dir and what to do', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-full-'));
  try {
    const first = await startTestBroker({ dataDir });
    const c1 = await RawClient.connect(first.port);
    assert.equal(await c1.request('REGISTER f'), 'OK');
    assert.equal(await c1.request('PUT f one'), 'OK');
    c1.close();
    await first.close();
    const cursor = join(dataDir, 'topics', 'f', 'cursor');
    await unlink(cursor);
    await symlink('/dev/full', cursor);

    const node = await startTestBroker({ dataDir });
    const c = await RawClient.connect(node.port);
    try {
      c.send('GET f'); // moves the cursor: its write finds the disk full
      assert.equal(await c.nextFrame(), undefined, 'the GET is not answered: its cursor move was not stored');
      await node.closed;
      const message = node.failure?.message ?? '';
      assert.match(message, new RegExp(`^storage failure in data dir ${dataDir}: ENOSPC`));
      assert.ok(message.includes(`(writing ${cursor})`), message);
      assert.ok(message.includes(`the disk holding ${dataDir} is full: free space there`), message);
      assert.equal((node.failure as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      c.close();
      await node.close().catch(() => undefined);
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
