import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

/**
 * Attack: open connections and never use them. Before the fix, 4,096 idle
 * sockets (the default limit) made the node refuse every new client. Now a
 * new connection always gets in (the idlest one is closed to make room)
 * and idle sockets are closed after `idleTimeoutMs`. Scaled down: 300
 * idle sockets against a limit of 40.
 */

function openIdle(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.on('error', () => undefined);
    s.once('error', reject);
  });
}

async function timedRoundTrip(port: number, topic: string): Promise<number> {
  const started = performance.now();
  const c = await RawClient.connect(port);
  try {
    assert.equal(await c.request(`REGISTER ${topic}`, 2000), 'OK');
    assert.equal(await c.request(`PUT ${topic} served`, 2000), 'OK');
    assert.equal(await c.request(`GET ${topic}`, 2000), 'OK served');
  } finally {
    c.close();
  }
  return performance.now() - started;
}

test('300 idle connections against maxConnections 40: a new client is still served at once', { timeout: 20_000 }, async () => {
  await withBroker({ maxConnections: 40 }, async (node) => {
    const idle: Socket[] = [];
    try {
      for (let i = 0; i < 300; i++) idle.push(await openIdle(node.port));
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(node.stats().connections <= 40, `${node.stats().connections} connections held`);
      const ms = await timedRoundTrip(node.port, 'flood');
      assert.ok(ms < 1000, `a new client waited ${ms.toFixed(0)} ms`);
      assert.ok(node.stats().evictedConnections >= 260, `evicted ${node.stats().evictedConnections}`);
    } finally {
      for (const s of idle) s.destroy();
    }
  });
});

test('idle connections are closed after idleTimeoutMs; a connection in use is not', { timeout: 20_000 }, async () => {
  await withBroker({ idleTimeoutMs: 300 }, async (node) => {
    const idle: Socket[] = [];
    for (let i = 0; i < 50; i++) idle.push(await openIdle(node.port));
    const busy = await RawClient.connect(node.port);
    assert.equal(await busy.request('REGISTER busy'), 'OK');
    const deadline = Date.now() + 900;
    while (Date.now() < deadline) {
      assert.equal(await busy.request('GET busy'), 'EMPTY');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(node.stats().idleClosedConnections, 50);
    assert.equal(node.stats().connections, 1, 'only the busy connection is left');
    assert.equal(busy.closed, false);
    busy.close();
    for (const s of idle) s.destroy();
  });
});
