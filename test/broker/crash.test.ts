import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeBatchGet, parseBatchGet } from '../../src/protocol/index.js';
import { spawnBrokerProcess, startTestBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

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
      const { child, port } = await spawnBrokerProcess(['--data-dir', dataDir, '--fsync', fsync]);
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
        // GET is destructive: the consumer's one GET in flight at the kill may
        // have moved the (durable) cursor while its reply never arrived. That
        // one entry is gone by protocol design; anything more is a bug.
        const cursor = (JSON.parse(await c.request('STATE crash')) as { read_cursor: number }).read_cursor;
        const lostInFlight = cursor - consumed.length;
        assert.ok(lostInFlight === 0 || lostInFlight === 1, `persisted cursor ${cursor} vs ${consumed.length} entries received`);
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
        let missing = 0;
        for (const [id, count] of acked.entries()) {
          const seqs = perProducer.get(id) ?? [];
          // Each producer's entries are in the log in its send order...
          for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `producer ${id} entries out of order at ${i}`);
          // ...and every acknowledged one is there (unacknowledged in-flight ones may follow).
          const present = new Set(seqs);
          for (let i = 0; i < count; i++) if (!present.has(i)) missing++;
        }
        assert.ok(missing <= lostInFlight, `${missing} acknowledged entries missing, ${lostInFlight} explained by a GET in flight`);
      } finally {
        await node.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}
