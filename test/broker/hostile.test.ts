import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { spawnBrokerProcess, startTestBroker, withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { MAX_TOPICS } from '../../src/broker/commands.js';
import { startBroker } from '../../src/broker/index.js';

/** A well-behaved client must still get a full round trip, promptly. */
async function assertServed(port: number, topic = 'good'): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    assert.equal(await c.request(`REGISTER ${topic}`, 5000), 'OK');
    assert.equal(await c.request(`PUT ${topic} still-here`, 5000), 'OK');
    assert.equal(await c.request(`GET ${topic}`, 5000), 'OK still-here');
  } finally {
    c.close();
  }
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.on('error', reject);
  });
}

describe('hostile input', () => {
  for (const compat of ['default', 'stock'] as const) {
    test(`random bytes on many connections (${compat} mode) do not disturb a good client`, async () => {
      await withBroker({ compat }, async (node) => {
        const sockets = await Promise.all(Array.from({ length: 40 }, () => openSocket(node.port)));
        for (const s of sockets) {
          s.on('error', () => undefined);
          s.on('data', () => undefined);
          s.write(randomBytes(64 * 1024));
        }
        await assertServed(node.port);
        for (const s of sockets) s.destroy();
        await assertServed(node.port, 'good2');
      });
    });
  }

  test('frames of random bytes with valid lengths each get exactly one reply', async () => {
    await withBroker(async (node) => {
      const c = await RawClient.connect(node.port);
      await c.request('REGISTER fuzz');
      const n = 2000;
      const prefixes = ['', 'PUT fuzz ', 'GET ', 'BATCH_PUT fuzz ', 'BATCH_GET fuzz ', 'REGISTER ', 'STATE '];
      for (let i = 0; i < n; i++) {
        const prefix = Buffer.from(prefixes[i % prefixes.length]!);
        c.send(Buffer.concat([prefix, randomBytes(1 + (i % 300))]));
      }
      c.send('STATE fuzz');
      for (let i = 0; i < n; i++) {
        const reply = await c.next();
        assert.match(reply, /^(OK|EMPTY|ERR |\{)/s, `reply ${i}`);
      }
      assert.match(await c.next(), /^\{"current_segment":1/);
      c.close();
      await assertServed(node.port);
    });
  });

  test('half-open connections (partial header or body, then silence) do not stall others', async () => {
    await withBroker(async (node) => {
      const sockets = await Promise.all(Array.from({ length: 200 }, () => openSocket(node.port)));
      sockets.forEach((s, i) => {
        s.on('error', () => undefined);
        const h = Buffer.alloc(4);
        h.writeUInt32LE(65_536, 0);
        s.write(i % 2 === 0 ? h.subarray(0, 2) : Buffer.concat([h, Buffer.alloc(30_000, 0x41)]));
      });
      await assertServed(node.port);
      for (const s of sockets) s.destroy();
    });
  });

  test('2,000 idle connections are held while a good client is served', async () => {
    const node = await startTestBroker();
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 2000; i += 200) {
        sockets.push(...(await Promise.all(Array.from({ length: 200 }, () => openSocket(node.port)))));
      }
      const started = Date.now();
      await assertServed(node.port);
      assert.ok(Date.now() - started < 5000, `served in ${Date.now() - started} ms`);
      assert.ok(node.stats().connections >= 2000, `${node.stats().connections} connections`);
    } finally {
      for (const s of sockets) s.destroy();
      await node.close();
    }
  });

  test('at maxConnections a new connection gets in and the idlest one is closed, so idle sockets never lock clients out', async () => {
    await withBroker({ maxConnections: 5 }, async (node) => {
      const held: RawClient[] = [];
      for (let i = 0; i < 5; i++) held.push(await RawClient.connect(node.port));
      // held[0] is the oldest but talks, so held[1] is now the idlest.
      assert.equal(await held[0]!.request('REGISTER ok'), 'OK');
      const late = await RawClient.connect(node.port);
      assert.equal(await late.request('PUT ok served'), 'OK');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(held[1]!.closed, true, 'the idlest connection made room');
      assert.deepEqual(held.map((c) => c.closed), [false, true, false, false, false]);
      assert.equal(await held[0]!.request('GET ok'), 'OK served');
      assert.equal(node.stats().connections, 5);
      assert.equal(node.stats().evictedConnections, 1);
      for (const c of [...held, late]) c.close();
    });
  });

  test('a client that never reads its replies cannot grow the node\'s memory', async () => {
    const { child, port } = await spawnBrokerProcess(['--data-dir', `/tmp/walrus-hostile-${process.pid}`, '--fsync', 'never']);
    const rss = async (): Promise<number> => {
      const c = await RawClient.connect(port);
      const metrics = JSON.parse(await c.request('METRICS')) as { embedded: { rss_bytes: number } };
      c.close();
      return metrics.embedded.rss_bytes;
    };
    try {
      const before = await rss();
      const greedy = await openSocket(port);
      greedy.pause(); // never read
      greedy.on('error', () => undefined);
      // ~40 MB of METRICS requests would produce ~3 GB of replies if the node buffered them.
      const request = Buffer.alloc(11);
      request.writeUInt32LE(7, 0);
      request.write('METRICS', 4);
      const burst = Buffer.concat(Array.from({ length: 50_000 }, () => request));
      for (let i = 0; i < 80; i++) greedy.write(burst);
      await new Promise((r) => setTimeout(r, 1500));
      await assertServed(port);
      const after = await rss();
      assert.ok(after - before < 100 * 1024 * 1024, `node RSS grew by ${Math.round((after - before) / 1048576)} MiB`);
      greedy.destroy();
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      const { rm } = await import('node:fs/promises');
      await rm(`/tmp/walrus-hostile-${process.pid}`, { recursive: true, force: true });
    }
  });

  test('one small read of GETs for big entries cannot make the node buffer all their replies', async () => {
    const dataDir = `/tmp/walrus-amplify-${process.pid}`;
    const { child, port } = await spawnBrokerProcess(['--data-dir', dataDir, '--fsync', 'never']);
    const rss = async (): Promise<number> => {
      const c = await RawClient.connect(port);
      const metrics = JSON.parse(await c.request('METRICS')) as { embedded: { rss_bytes: number } };
      c.close();
      return metrics.embedded.rss_bytes;
    };
    try {
      const writer = await RawClient.connect(port);
      assert.equal(await writer.request('REGISTER big'), 'OK');
      const entry = 'e'.repeat(60_000);
      for (let i = 0; i < 1500; i++) writer.send(`PUT big ${entry}`);
      for (let i = 0; i < 1500; i++) assert.equal(await writer.next(), 'OK');
      writer.close();
      const before = await rss();
      // 1,500 GETs are 13.5 KB of requests and would be 90 MB of replies.
      const greedy = await openSocket(port);
      greedy.pause();
      greedy.on('error', () => undefined);
      const get = Buffer.alloc(11);
      get.writeUInt32LE(7, 0);
      get.write('GET big', 4);
      greedy.write(Buffer.concat(Array.from({ length: 1500 }, () => get)));
      await new Promise((r) => setTimeout(r, 1000));
      await assertServed(port);
      const after = await rss();
      assert.ok(after - before < 40 * 1024 * 1024, `node RSS grew by ${Math.round((after - before) / 1048576)} MiB`);
      greedy.destroy();
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      const { rm } = await import('node:fs/promises');
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('names: a REGISTER over 1,024 characters and an invalid CLAIM name are refused (huge names all collide in V8\'s hash tables)', async () => {
    for (const compat of ['default', 'stock'] as const) {
      await withBroker({ compat }, async (node) => {
        const c = await RawClient.connect(node.port);
        try {
          assert.match(await c.request(`REGISTER ${'x'.repeat(1_025)}`), /^ERR invalid topic: 1025 characters long, the limit is 1024/);
          assert.equal(await c.request(`REGISTER ${'x'.repeat(1_024)}`), 'OK');
          if (compat === 'default') {
            assert.match(await c.request(`CLAIM ${'y'.repeat(20_000)} me 1000`), /^ERR invalid CLAIM name: topic is 20000 characters long/);
            assert.equal(await c.request('CLAIM orders.p0 me 1000'), 'OK');
          }
        } finally {
          c.close();
        }
        await assertServed(node.port);
      });
    }
  });

  test(`topics: at ${MAX_TOPICS.toLocaleString('en')} the node refuses more, names them, and keeps serving the ones it has`, { timeout: 120_000 }, async () => {
    // In memory (no data directory): the count is the bound here, not descriptors.
    const node = await startBroker({ host: '127.0.0.1', port: 0 });
    try {
      const c = await RawClient.connect(node.port);
      try {
        for (let i = 0; i < MAX_TOPICS - 1; i++) {
          const reply = await c.request(`REGISTER t${i}`);
          if (reply !== 'OK') assert.fail(`REGISTER t${i}: ${reply}`);
        }
        assert.equal(await c.request('REGISTER good'), 'OK', 'the last one that fits');
        assert.equal(await c.request('REGISTER good'), 'OK', 'registering an existing topic is still fine');
        assert.equal(await c.request(`REGISTER one-too-many`), `ERR too many topics (${MAX_TOPICS}) on this node`);
      } finally {
        c.close();
      }
      await assertServed(node.port);
    } finally {
      await node.close();
    }
  });
});
