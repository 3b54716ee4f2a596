import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { encodeBatchGet, parseBatchGet } from '../../src/protocol/index.js';
import { startTestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

/** Starts `walrus-stream broker` as a child process and resolves with its port (from the JSON line). */
async function spawnBroker(dataDir: string, fsync: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [BIN, 'broker', '--port', '0', '--data-dir', dataDir, '--fsync', fsync, '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`broker exited early with ${code}`)));
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
  return { child, port };
}

/** A producer that keeps `window` PUTs in flight and records which were acknowledged. */
async function produce(port: number, id: number, window: number, stop: { now: boolean }): Promise<number> {
  const c = await RawClient.connect(port);
  let sent = 0;
  let acked = 0;
  try {
    while (!stop.now) {
      while (sent - acked < window) c.send(`PUT crash p${id}-${String(sent++).padStart(8, '0')}`);
      const reply = await c.nextFrame(10_000);
      if (reply === undefined) break; // the node died
      assert.equal(reply.toString(), 'OK');
      acked++;
    }
  } catch {
    // A reset mid-read means the node died: what was acknowledged is what counts.
  } finally {
    c.close();
  }
  return acked;
}

/** A consumer competing on the shared cursor, recording every entry it was given. */
async function consume(port: number, stop: { now: boolean }, seen: string[]): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    while (!stop.now) {
      const reply = await c.request('GET crash', 10_000).catch(() => undefined);
      if (reply === undefined) break;
      if (reply.startsWith('OK ')) seen.push(reply.slice(3));
    }
  } finally {
    c.close();
  }
}

for (const fsync of ['always', 'never'] as const) {
  test(`kill -9 mid-stream (fsync ${fsync}): every acknowledged PUT survives, in order, once, and consumed entries are not redelivered`, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'walrus-crash-'));
    try {
      const { child, port } = await spawnBroker(dataDir, fsync);
      const setup = await RawClient.connect(port);
      assert.equal(await setup.request('REGISTER crash'), 'OK');
      setup.close();

      const stop = { now: false };
      const consumed: string[] = [];
      const producers = [0, 1, 2, 3].map((id) => produce(port, id, 16, stop));
      const consumer = consume(port, stop, consumed);
      await new Promise((r) => setTimeout(r, 1200));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const acked = await Promise.all(producers);
      stop.now = true;
      await consumer;
      assert.ok(acked.every((n) => n > 0), `every producer got acknowledgements: ${acked.join(',')}`);

      const node = await startTestBroker({ dataDir });
      try {
        const c = await RawClient.connect(node.port);
        const rest: string[] = [];
        for (;;) {
          c.writeRaw(encodeBatchGet('crash', 2000));
          const batch = parseBatchGet((await c.nextFrame())!);
          if (batch.length === 0) break;
          for (const e of batch) rest.push(e.toString());
        }
        c.close();

        const all = [...consumed, ...rest];
        assert.equal(new Set(all).size, all.length, 'no entry delivered twice (cursor persisted, no duplicate appends)');
        const perProducer = new Map<number, number[]>();
        for (const entry of all) {
          const m = /^p(\d)-(\d{8})$/.exec(entry);
          assert.ok(m, `entry is intact: ${JSON.stringify(entry)}`);
          const list = perProducer.get(Number(m[1])) ?? [];
          list.push(Number(m[2]));
          perProducer.set(Number(m[1]), list);
        }
        for (const [id, count] of acked.entries()) {
          const seqs = (perProducer.get(id) ?? []).slice().sort((a, b) => a - b);
          // The log order per producer is its send order...
          const inLogOrder = all.filter((e) => e.startsWith(`p${id}-`)).map((e) => Number(e.slice(3)));
          assert.deepEqual(inLogOrder, seqs, `producer ${id} entries are in order`);
          // ...and holds every acknowledged one (maybe a few unacknowledged in-flight ones after them).
          assert.ok(seqs.length >= count, `producer ${id}: ${seqs.length} stored < ${count} acknowledged`);
          for (let i = 0; i < count; i++) assert.equal(seqs[i], i, `producer ${id} entry ${i} present`);
        }
      } finally {
        await node.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}
