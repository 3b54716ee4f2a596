import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { runCli, stateFixture, expectedTotals } from '../state/run-cli.js';
import { fixture, harness, type Harness } from './harness.js';

/**
 * `kill -9` of `walrus-stream run` at exact places of the state commit
 * protocol (WALRUS_STREAM_FAULT), then a restart without the fault: the
 * state must hold every update exactly once and every output must equal the
 * state just before its record. Two stateful steps in a chain
 * (count → tally), so an entry's records change two stores.
 */
const KEYS = 7;
const N = 240;
const order = (i: number) => ({ key: `cust-${(i * 3) % KEYS}`, value: { i, amount: (i % 5) + 1 } });

const expected = () => expectedTotals(N, order);

async function storeContents(stateDir: string, app: string, name: string): Promise<Map<string, unknown>> {
  const store = await KeyValueStore.open({ dir: storeDir(stateDir, app, name), name });
  try {
    return new Map(store.range().map((e) => [e.key, e.value]));
  } finally {
    await store.close();
  }
}

async function crashAndRecover(h: Harness, point: string, n: number, options: { wipeStores?: boolean } = {}): Promise<{ app: string; stateDir: string; killedStderr: string }> {
  const app = `faults-${point.replace(/\./g, '-')}${options.wipeStores ? '-wiped' : ''}`;
  const stateDir = join(h.stateDir, app);
  await mkdir(stateDir, { recursive: true });
  const file = join(stateDir, 'topology.yaml');
  await writeFile(file, `
app: ${app}
stateDir: ${JSON.stringify(stateDir)}
sources:
  orders: { topic: ${app}.orders, poll: { batchSize: 4 } }
processors:
  count:
    module: ${JSON.stringify(fixture('state-count.ts'))}
    input: orders
    ordering: key
    stores: [totals]
    batchSize: 8
  tally:
    module: ${JSON.stringify(stateFixture('tally.ts'))}
    input: count
    ordering: key
    stores: [tally]
    batchSize: 8
sinks:
  counts: { topic: ${app}.counts, input: count, batch: { maxRecords: 16 } }
  tallies: { topic: ${app}.tallies, input: tally, batch: { maxRecords: 16 } }
stores:
  totals: { fsync: never }
  tally: { fsync: never }
journal: { fsync: never }
`);
  await h.produce(`${app}.orders`, Array.from({ length: N }, (_, i) => order(i)), 3);
  const args = ['run', file, '--nodes', h.broker.address, '--until-idle', '--workers', '1', '--max-in-flight', '30', '--progress-interval', '0'];
  const killed = await runCli(args, { fault: `${point}:${n}` });
  assert.equal(killed.signal, 'SIGKILL', `the run with ${point}:${n} was killed (exit ${killed.code}); stderr:\n${killed.stderr}`);
  assert.match(killed.stderr, new RegExp(`WALRUS_STREAM_FAULT: SIGKILL at ${point.replace('.', '\\.')}`));
  // The stores' directory lost (docs/state.md: a corrupt store is moved aside and restored from its changelog); the journal stays.
  if (options.wipeStores) await rm(join(stateDir, app, 'state'), { recursive: true, force: true });
  const again = await runCli(args);
  assert.equal(again.code, 0, `the restart finished; stderr:\n${again.stderr}`);
  return { app, stateDir, killedStderr: killed.stderr };
}

async function assertExact(h: Harness, app: string, stateDir: string): Promise<void> {
  const { prefix, totals } = expected();
  assert.deepEqual(await storeContents(stateDir, app, 'totals'), totals, 'store totals: every record counted exactly once');
  assert.deepEqual(await storeContents(stateDir, app, 'tally'), new Map([...totals].map(([k, t]) => [k, t.n])), 'store tally: every record counted exactly once');

  const counts = (await h.drain(`${app}.counts`)).map((o) => o.value as { i: number; n: number; sum: number });
  const seen = new Set<number>();
  for (const o of counts) {
    assert.deepEqual({ n: o.n, sum: o.sum }, prefix.get(o.i), `count output of record ${o.i} equals the state just before it plus the record`);
    seen.add(o.i);
  }
  assert.equal(seen.size, N, 'every record produced its count output');

  const tallies = (await h.drain(`${app}.tallies`)).map((o) => o.value as { i: number; m: number });
  seen.clear();
  for (const o of tallies) {
    assert.equal(o.m, prefix.get(o.i)!.n, `tally output of record ${o.i}`);
    seen.add(o.i);
  }
  assert.equal(seen.size, N, 'every record produced its tally output');
}

const POINTS: Array<[string, number]> = [
  ['sink.acked', 4],
  ['state.log-written', 3],
  ['state.between-stores', 25],
  ['state.committed', 25],
  ['journal.released', 3],
];

test('kill -9 at each fault point of the state commit protocol, then restart: exact state in both stores, every output from the state just before its record', { timeout: 240_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  for (const [point, n] of POINTS) {
    await t.test(`${point}:${n}`, async () => {
      const { app, stateDir } = await crashAndRecover(h, point, n);
      await assertExact(h, app, stateDir);
    });
  }
});

test('kill -9 after a commit, then the stores\' directory lost: restored from the changelog, the journal\'s unreleased records are not applied twice', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const { app, stateDir } = await crashAndRecover(h, 'state.committed', 25, { wipeStores: true });
  await assertExact(h, app, stateDir);
});

test('WALRUS_STREAM_FAULT with an unknown point fails the run at start, naming the valid points', { timeout: 60_000 }, async () => {
  const run = await runCli(['run', '--help'], { fault: 'state.nowhere:1' });
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /WALRUS_STREAM_FAULT=state\.nowhere:1: expected <point>:<n>.*state\.committed/s);
});
