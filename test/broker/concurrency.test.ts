import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeBatchGet, encodeBatchPut, parseBatchGet } from '../../src/protocol/index.js';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

for (const fsync of ['always', 'never'] as const) {
  test(`many pipelining producers and competing consumers (fsync ${fsync}): every entry delivered exactly once, per-producer order kept`, async () => {
    await withBroker({ fsync }, async (node) => {
      const setup = await RawClient.connect(node.port);
      assert.equal(await setup.request('REGISTER conc'), 'OK');
      setup.close();

      const producers = 12;
      const perProducer = 300;
      const produce = async (id: number): Promise<void> => {
        const c = await RawClient.connect(node.port);
        // Mix single PUTs and small batches, all pipelined.
        let next = 0;
        let expected = 0;
        while (next < perProducer) {
          if (next % 7 === 3 && next + 3 <= perProducer) {
            c.writeRaw(encodeBatchPut('conc', [0, 1, 2].map((k) => `p${id}-${next + k}`)));
            next += 3;
          } else {
            c.send(`PUT conc p${id}-${next++}`);
          }
          expected++;
        }
        for (let i = 0; i < expected; i++) assert.match(await c.next(), /^OK( 3)?$/);
        c.close();
      };
      const consumed: string[][] = [];
      let producing = true;
      const consume = async (): Promise<void> => {
        const c = await RawClient.connect(node.port);
        const mine: string[] = [];
        consumed.push(mine);
        for (;;) {
          // Alternate GET and BATCH_GET, several in flight.
          c.send('GET conc');
          c.writeRaw(encodeBatchGet('conc', 5));
          const single = await c.next();
          const batch = parseBatchGet((await c.nextFrame())!).map(String);
          if (single.startsWith('OK ')) mine.push(single.slice(3));
          mine.push(...batch);
          if (!producing && single === 'EMPTY' && batch.length === 0) break;
        }
        c.close();
      };
      const consumers = [consume(), consume(), consume()];
      await Promise.all(Array.from({ length: producers }, (_, id) => produce(id)));
      producing = false;
      await Promise.all(consumers);

      const all = consumed.flat();
      assert.equal(all.length, producers * perProducer);
      assert.equal(new Set(all).size, all.length);
      // Each consumer sees any one producer's entries in that producer's order.
      for (const mine of consumed) {
        const last = new Map<string, number>();
        for (const entry of mine) {
          const [p, n] = entry.split('-') as [string, string];
          assert.ok((last.get(p) ?? -1) < Number(n), `${entry} after ${last.get(p)}`);
          last.set(p, Number(n));
        }
      }
    });
  });
}
