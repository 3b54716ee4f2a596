import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

/**
 * Attack: open connections and never use them. Before the fix, 4,096 idle
 * sockets (the default limit) made the node refuse every new client. Now a
 * new connection always gets in (the idlest one is closed to make room)
 * and idle sockets are closed after `idleTimeoutMs`. Scaled down: 300
 * idle sockets against a limit of 40.
 */

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

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
  // A wide margin between the busy connection's pace (50 ms) and the timeout (1.5 s): a loaded CI machine can stall the loop for a while.
  await withBroker({ idleTimeoutMs: 1_500 }, async (node) => {
    const idle: Socket[] = [];
    for (let i = 0; i < 50; i++) idle.push(await openIdle(node.port));
    const busy = await RawClient.connect(node.port);
    assert.equal(await busy.request('REGISTER busy'), 'OK');
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      assert.equal(await busy.request('GET busy'), 'EMPTY');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(node.stats().idleClosedConnections, 50);
    assert.equal(node.stats().connections, 1, 'only the busy connection is left');
    assert.equal(busy.closed, false);
    busy.close();
    for (const s of idle) s.destroy();
  });
});

test('the file-descriptor limit below maxConnections does not lock clients out either (ulimit -n 200, 300 idle sockets)', { timeout: 30_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-hostile-fd-'));
  // The node's process gets a descriptor limit far below the default maxConnections (4096).
  const child = spawn('sh', ['-c', `ulimit -n 200 && exec "${process.execPath}" "${BIN}" broker --port 0 --json --data-dir "${dataDir}" --fsync never`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const idle: Socket[] = [];
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
      createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    });
    for (let i = 0; i < 300; i++) {
      const s = await openIdle(port);
      s.on('close', () => undefined);
      idle.push(s);
    }
    await new Promise((r) => setTimeout(r, 200));
    // The first attempts may be the ones the node had to drop while making room.
    let served = false;
    for (let attempt = 0; attempt < 5 && !served; attempt++) {
      try {
        const ms = await timedRoundTrip(port, 'fd');
        served = ms < 2000;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(served, 'a new client was served despite the descriptor limit');
  } finally {
    for (const s of idle) s.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    await rm(dataDir, { recursive: true, force: true });
  }
});
