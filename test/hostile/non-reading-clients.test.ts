import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnBrokerProcess, withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

/**
 * Attack: many clients pipeline METRICS (about 1.5 KB of reply for 11
 * bytes of request) and never read. Before the fix, 400 of them pushed the
 * node to 672 MB and a normal PUT waited 20 s. Now each connection's unsent
 * reply bytes are bounded (`--max-unsent-reply-bytes`), the node stops
 * reading from such a client, and the memory is released when it goes.
 * Scaled down: 40 clients against a 16 KiB bound, in a separate process so
 * its RSS is the node's alone.
 */

const CLIENTS = 40;
const BOUND = 16 * 1024;

interface Embedded {
  rss_bytes: number;
  connections: number;
  unsentReplyBytes: number;
}

async function embedded(port: number): Promise<Embedded> {
  const c = await RawClient.connect(port);
  try {
    return (JSON.parse(await c.request('METRICS', 5000)) as { embedded: Embedded }).embedded;
  } finally {
    c.close();
  }
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.on('error', () => undefined);
    s.once('error', reject);
  });
}

test(`${CLIENTS} clients pipelining METRICS without reading: bounded memory, normal clients served promptly, memory released when they go`, { timeout: 30_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-hostile-pipe-'));
  const { child, port } = await spawnBrokerProcess(['--data-dir', dataDir, '--fsync', 'never', '--max-unsent-reply-bytes', String(BOUND)]);
  const greedy: Socket[] = [];
  try {
    const before = await embedded(port);
    const request = Buffer.alloc(11);
    request.writeUInt32LE(7, 0);
    request.write('METRICS', 4);
    // 20,000 requests each: about 30 MB of replies per client if the node buffered them (1.2 GB in all).
    const burst = Buffer.concat(Array.from({ length: 20_000 }, () => request));
    for (let i = 0; i < CLIENTS; i++) {
      const s = await openSocket(port);
      s.pause(); // never read
      s.write(burst);
      greedy.push(s);
    }
    await new Promise((r) => setTimeout(r, 1000));

    const started = performance.now();
    const c = await RawClient.connect(port);
    assert.equal(await c.request('REGISTER normal', 5000), 'OK');
    assert.equal(await c.request('PUT normal hello', 5000), 'OK');
    assert.equal(await c.request('GET normal', 5000), 'OK hello');
    c.close();
    const ms = performance.now() - started;
    assert.ok(ms < 4000, `a normal client waited ${ms.toFixed(0)} ms`);

    const during = await embedded(port);
    // Each stalled connection holds at most the bound plus one reply (a METRICS reply is ~1.5 KB).
    assert.ok(during.unsentReplyBytes <= CLIENTS * (BOUND + 4096), `${during.unsentReplyBytes} unsent reply bytes`);
    const grown = during.rss_bytes - before.rss_bytes;
    assert.ok(grown < 120 * 1024 * 1024, `node RSS grew by ${Math.round(grown / 1048576)} MiB`);

    for (const s of greedy) s.destroy();
    greedy.length = 0;
    const deadline = Date.now() + 5000;
    let after = await embedded(port);
    while ((after.connections > 1 || after.unsentReplyBytes > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = await embedded(port);
    }
    assert.equal(after.connections, 1, 'only the probe is left');
    assert.equal(after.unsentReplyBytes, 0, 'every unsent reply was released');
  } finally {
    for (const s of greedy) s.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('one client asking for big entries without reading: the node holds at most maxUnsentReplyBytes (plus one reply) for it', { timeout: 30_000 }, async () => {
  await withBroker({ maxUnsentReplyBytes: BOUND }, async (node) => {
    const writer = await RawClient.connect(node.port);
    assert.equal(await writer.request('REGISTER big'), 'OK');
    const entry = 'e'.repeat(60_000);
    for (let i = 0; i < 600; i++) writer.send(`PUT big ${entry}`);
    for (let i = 0; i < 600; i++) assert.equal(await writer.next(), 'OK');
    const greedy = await openSocket(node.port);
    greedy.pause();
    const get = Buffer.alloc(11);
    get.writeUInt32LE(7, 0);
    get.write('GET big', 4);
    greedy.write(Buffer.concat(Array.from({ length: 600 }, () => get)));
    // Until the kernel's socket buffers are full the replies leave; then they back up in the node, up to the bound.
    let maxUnsent = 0;
    const deadline = Date.now() + 3000;
    let stats = node.stats();
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      stats = node.stats();
      maxUnsent = Math.max(maxUnsent, stats.unsentReplyBytes);
    }
    assert.ok(maxUnsent > 0, 'the replies did back up in the node');
    assert.ok(maxUnsent <= BOUND + 60_000 + 16, `held ${maxUnsent} unsent reply bytes for one connection`);
    assert.equal(await writer.request('STATE big').then((s) => (JSON.parse(s) as { read_cursor: number }).read_cursor < 600), true, 'execution stopped: not every GET ran');
    greedy.destroy();
    const until = Date.now() + 3000;
    while (node.stats().connections > 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(node.stats().unsentReplyBytes, 0, 'released when the client went');
    writer.close();
  });
});
