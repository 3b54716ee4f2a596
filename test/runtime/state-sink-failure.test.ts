import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { RefusingProxy } from '../state/refusing-proxy.js';
import { runCli, stateFixture, expectedTotals } from '../state/run-cli.js';
import { fixture, harness } from './harness.js';

const KEYS = 5;
const N = 150;
const order = (i: number) => ({ key: `cust-${i % KEYS}`, value: { i, amount: (i % 4) + 1 } });

const expected = () => expectedTotals(N, order);

test('a stateful record whose sink write fails for good: nothing committed, the run stops with a clear error, a restart produces every output from exact state', { timeout: 90_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  // The pipeline talks to the node through a proxy that can make it refuse writes to the sink topic.
  const proxy = await RefusingProxy.start({ host: h.broker.host, port: h.broker.port });
  t.after(() => proxy.close());
  const stateDir = join(h.stateDir, 'state');
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: sinkfail
stateDir: ${JSON.stringify(stateDir)}
sources:
  orders: { topic: sinkfail.orders, poll: { batchSize: 10 } }
processors:
  count:
    module: ${JSON.stringify(stateFixture('slow-count.ts'))}
    input: orders
    ordering: key
    stores: [totals]
    batchSize: 4
    config: { delayMs: 20 }
sinks:
  out: { topic: sinkfail.counts, input: count, batch: { maxRecords: 8 } }
stores:
  totals: { fsync: never }
journal: { fsync: never }
`);
  await h.produce('sinkfail.orders', Array.from({ length: N }, (_, i) => order(i)), 2);
  const args = ['run', file, '--nodes', proxy.address, '--until-idle', '--workers', '1', '--progress-interval', '0'];

  const first = runCli(args);
  // Once some outputs are in the sink topic, the node starts refusing writes to it for good: the
  // client re-registers the topic once (its answer to "unknown topic"), is refused again, and the
  // write fails with TOPIC_NOT_FOUND, which no retry can fix.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const written = await h.client.state('sinkfail.counts').then((s) => s.totalEntries ?? 0, () => 0);
    if (written >= 3) break;
    assert.ok(Date.now() < deadline, 'the first run wrote to the sink');
    await new Promise((r) => setTimeout(r, 10));
  }
  proxy.refuse = (command, topic) => ((command === 'PUT' || command === 'BATCH_PUT') && topic === 'sinkfail.counts' ? `unknown topic ${topic}` : undefined);
  const failed = await first;
  proxy.refuse = undefined;
  t.diagnostic(`first run: exit ${failed.code}, ${proxy.refused} writes refused`);
  assert.ok(proxy.refused > 0, 'writes were refused while the first run was processing');

  const again = await runCli(args);
  assert.equal(again.code, 0, `the restart finished; stderr:\n${again.stderr}`);

  const { totals, prefix } = expected();
  const store = await KeyValueStore.open({ dir: storeDir(stateDir, 'sinkfail', 'totals'), name: 'totals' });
  const state = new Map(store.range().map((e) => [e.key, e.value]));
  await store.close();
  assert.deepEqual(state, totals, 'every record counted exactly once');
  const outputs = (await h.drain('sinkfail.counts')).map((o) => o.value as { i: number; n: number; sum: number });
  const seen = new Set<number>();
  for (const o of outputs) {
    assert.deepEqual({ n: o.n, sum: o.sum }, prefix.get(o.i), `output of record ${o.i} equals the state just before it plus the record`);
    seen.add(o.i);
  }
  assert.deepEqual([...Array(N).keys()].filter((i) => !seen.has(i)), [], 'every record produced its output (none lost to the refused writes)');

  // The first run stopped on its own, non-zero, saying why.
  assert.equal(failed.signal, null);
  assert.notEqual(failed.code, 0, `the first run failed; stderr:\n${failed.stderr}`);
  assert.match(failed.stderr, /TOPIC_NOT_FOUND|unknown topic sinkfail\.counts/);
  assert.match(failed.stderr, /state changes are not committed and the entry stays in the journal/);
  assert.doesNotMatch(failed.stderr, /client is closed/, "after the fatal error, results still coming back are not written (no write after write failing on the closed client)");
});

test('an oversize output of a stateful step fails that step on that record alone (MESSAGE_TOO_LARGE, dead-lettered): its neighbours are written, nothing after it runs on it, the state is exact', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const M = 60;
  const BIG = 17;
  await h.produce('oversize.orders', Array.from({ length: M }, (_, i) => ({ key: `k-${i % 3}`, value: { i } })), 2);
  // `count` feeds a sink and a second processor fused with it (one stage group): the worker packs the sink outputs.
  const summary = await h.run(`
app: oversize
stateDir: \${STATE_DIR}
sources:
  orders: { topic: oversize.orders }
processors:
  count:
    module: ${JSON.stringify(stateFixture('pad-count.ts'))}
    input: orders
    ordering: key
    stores: [totals]
    config: { big: ${BIG}, padBytes: 100000 }
  echo:
    module: ${JSON.stringify(fixture('echo.js'))}
    input: count
sinks:
  out: { topic: oversize.out, input: count, batch: { maxRecords: 500, linger: 50ms } }
  echoed: { topic: oversize.echoed, input: echo }
stores:
  totals: { fsync: never }
`, { workers: 1 });
  assert.equal(summary.processors.count!.deadLettered, 1, 'the oversize output dead-lettered its record at count');

  const out = (await h.drain('oversize.out')).map((o) => (o.value as { i: number }).i).sort((a, b) => a - b);
  assert.deepEqual(out, [...Array(M).keys()].filter((i) => i !== BIG), 'every other record written to the sink (none failed with the oversize one)');
  // The output that can never be written fails `count` on that record: nothing of it goes on, so `echo` never sees it.
  const dead = (await h.drainEntries('oversize.orders.dlq')).map((e) => JSON.parse(e) as { processor: string; error: { code: string; message: string } });
  assert.deepEqual(dead.map((d) => [d.processor, d.error.code]).sort(), [['count', 'MESSAGE_TOO_LARGE']]);
  assert.equal((await h.drain('oversize.echoed')).length, M - 1, 'echo ran on every other record');
  assert.match(dead.find((d) => d.processor === 'count')!.error.message, /oversize\.out/);

  const store = await KeyValueStore.open({ dir: storeDir(join(h.stateDir), 'oversize', 'totals'), name: 'totals' });
  const state = Object.fromEntries(store.range<number>().map((e) => [e.key, e.value]));
  await store.close();
  // Record 17 (key k-2) failed at count, so its change was never applied: like any record count failed on.
  assert.deepEqual(state, { 'k-0': 20, 'k-1': 20, 'k-2': 19 }, 'every record that succeeded at count counted once; the dead-lettered one not at all');
});
