import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalrusClient } from '../../src/client/index.js';
import { spawnBrokerProcess } from '../helpers/broker.js';

test('walrus-stream broker --lease-timeout: a lease nobody acknowledges goes to the next reader after the timeout, its connection still open', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-lease-timeout-'));
  const node = await spawnBrokerProcess(['--data-dir', dir, '--lease-timeout', '150']);
  const stuck = new WalrusClient({ nodes: [node.address] });
  const other = new WalrusClient({ nodes: [node.address] });
  try {
    await stuck.register('t');
    await stuck.putMany('t', ['a', 'b', 'c']);
    const lease = await stuck.lease('t', 10);
    assert.equal(lease.leased, true);
    assert.deepEqual(lease.entries.map(String), ['a', 'b', 'c']);
    assert.deepEqual((await other.lease('t', 10)).entries, [], 'hidden while the lease is young');
    await new Promise((r) => setTimeout(r, 300));
    const again = await other.lease('t', 10);
    assert.deepEqual(again.entries.map(String), ['a', 'b', 'c'], 'redelivered after the timeout');
    await again.ack();
    await assert.rejects(lease.ack(), (error: Error & { code?: string }) => error.code === 'LEASE_NOT_FOUND');
  } finally {
    await stuck.close();
    await other.close();
    node.child.kill('SIGTERM');
    await new Promise((r) => node.child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
});
