import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBrokerInWorker } from '../../src/broker/index.js';
import { RawClient } from '../helpers/raw-client.js';

test('startBrokerInWorker runs a node on its own thread with the same handle shape', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-worker-'));
  try {
    const node = await startBrokerInWorker({ port: 0, dataDir, fsync: 'never' });
    assert.match(node.address, /^127\.0\.0\.1:\d+$/);
    const c = await RawClient.connect(node.port);
    assert.equal(await c.request('REGISTER w'), 'OK');
    assert.equal(await c.request('PUT w from-main-thread'), 'OK');
    assert.equal(await c.request('GET w'), 'OK from-main-thread');
    const stats = await node.stats();
    assert.equal(stats.topics, 1);
    assert.equal(stats.requests, 3);
    c.close();
    await node.close();
    await node.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('invalid options fail on the caller thread with CONFIG_INVALID', async () => {
  await assert.rejects(startBrokerInWorker({ port: 70_000 }), { code: 'CONFIG_INVALID' });
  await assert.rejects(startBrokerInWorker({ fsync: { intervalMs: 0 } }), /fsync.intervalMs/);
});
