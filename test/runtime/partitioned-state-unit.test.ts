import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalrusClient } from '../../src/client/index.js';
import { startTestBroker } from '../helpers/broker.js';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { encodeValue } from '../../src/state/model/codec.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { RuntimeState } from '../../src/runtime/state/runtime-state.js';
import { Ticket } from '../../src/runtime/coordinator/ticket.js';
import type { Job } from '../../src/runtime/coordinator/stage-runner.js';
import { fixture, harness } from './harness.js';

// RuntimeState over a partitioned store, against a real node: the instance opens only its
// partitions, a key's writes land in its key's partition and that partition's changelog, and
// a key of a partition it does not own is refused instead of being written here.

const topologyText = (stateDir: string) => `
app: units
stateDir: ${JSON.stringify(stateDir)}
sources:
  in: { topic: units-in, partitions: 4 }
processors:
  count: { module: ${JSON.stringify(fixture('state-count.ts'))}, input: in, ordering: key, stores: [totals] }
stores:
  totals: { partitions: 4, fsync: never }
`;

test('instance 0 of 2 opens partitions 0 and 2, commits a key to its partition and changelog, refuses a key of partition 1', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const { topology } = await loadTopologyText(topologyText(join(h.stateDir, 's')), join(h.stateDir, 'topology.yaml'));
  const state = (await RuntimeState.open(topology, h.client, undefined, { assignment: { instance: 0, instances: 2 }, instance: '0' }))!;
  t.after(() => state.close());
  const store = state.stores.get('totals')!;
  assert.deepEqual([...store.parts.keys()], [0, 2]);

  const ours = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].find((k) => partitionOfKey(k, 4) === 2)!;
  const theirs = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].find((k) => partitionOfKey(k, 4) === 1)!;
  const job = (key: string, seq: number): Job => ({
    record: { id: key, key, value: 1, headers: {}, timestamp: 0, source: 'in' }, key, attempt: 1, entry: 0,
    meta: { ticket: new Ticket(seq, 'in', 1, () => undefined), index: 0 },
  });
  const mine = job(ours, 1);
  const sent = state.preload('count', mine);
  assert.equal(state.accept('count', mine, [{ store: 'totals', writes: [[ours, encodeValue('totals', ours, { n: 1, sum: 5 })]] }], sent), undefined);
  const staged = (mine.meta as { ticket: Ticket }).ticket.stateChanges as Array<{ store: { partition?: number }; change: unknown }>;
  assert.equal(staged[0]!.store.partition, 2, 'staged on the key\'s partition');
  await store.storeFor(ours).commit(staged[0]!.change as never);
  assert.deepEqual(store.get(ours), { n: 1, sum: 5 });
  assert.ok(((await h.client.state('units-totals-changelog.p2')).lag ?? 0) > 0, 'published to partition 2\'s changelog');
  assert.equal((await h.client.state('units-totals-changelog.p0')).lag, 0);

  const other = job(theirs, 2);
  const shipped = state.preload('count', other)!;
  assert.deepEqual(shipped.map((p) => [p.store, p.entries]), [['totals', []]], 'nothing to ship for a key not owned');
  assert.match(shipped[0]!.refused!, new RegExp(`key "${theirs}" belongs to partition 1 of 4, which this instance does not own`), 'but why it may not touch the store (the worker throws it from ctx.state)');
  const refused = state.accept('count', other, [{ store: 'totals', writes: [[theirs, encodeValue('totals', theirs, { n: 1, sum: 1 })]] }], undefined);
  assert.equal(refused?.code, 'STATE_STORE_ERROR');
  assert.equal(refused?.retriable, false);
  assert.match(refused!.message, new RegExp(`key "${theirs}" belongs to partition 1 of 4, which this instance does not own \\(it owns partitions 0, 2\\)`));
  assert.equal(store.get(theirs), undefined);
});

test('on a stock node (no leases) a partition taken over is restored through plain reads; partitions not owned are not opened', { timeout: 30_000 }, async (t) => {
  const stock = await startTestBroker({ compat: 'stock' });
  const client = new WalrusClient({ nodes: [stock.address] });
  const dir = await mkdtemp(join(tmpdir(), 'walrus-pstock-'));
  t.after(async () => { await client.close(); await stock.close(); await rm(dir, { recursive: true, force: true }); });
  const load = async (stateDir: string) => (await loadTopologyText(topologyText(stateDir), join(dir, 'topology.yaml'))).topology;
  const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  // Instance 0 of 2 (machine A) counts the keys of partitions 0 and 2.
  const first = (await RuntimeState.open(await load(join(dir, 'a')), client, undefined, { assignment: { instance: 0, instances: 2 }, instance: '0' }))!;
  const mine = keys.filter((k) => partitionOfKey(k, 4) % 2 === 0);
  for (const [i, k] of mine.entries()) {
    const store = first.stores.get('totals')!.storeFor(k);
    const cs = store.changeSet(k);
    cs.put(k, { n: i + 1, sum: 10 * (i + 1) });
    await store.commit(cs);
  }
  await first.close();
  // Machine B runs one instance: it takes over every partition and restores 0 and 2 from their changelogs.
  const second = (await RuntimeState.open(await load(join(dir, 'b')), client))!;
  t.after(() => second.close());
  const store = second.stores.get('totals')!;
  assert.deepEqual([...store.parts.keys()], [0, 1, 2, 3]);
  assert.deepEqual(store.range().map((e) => e.key), [...mine].sort());
  for (const [i, k] of mine.entries()) assert.deepEqual(store.get(k), { n: i + 1, sum: 10 * (i + 1) });
  // Machine A kept files only for what it owned.
  assert.deepEqual(await readdir(join(dir, 'a', 'units', 'state', 'totals')), ['p0', 'p2']);
});

test('taking over a partition another live instance still holds (a shared stateDir, the old deployment still running) fails instead of deleting its files', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const { topology } = await loadTopologyText(topologyText(join(h.stateDir, 'shared')), join(h.stateDir, 'topology.yaml'));
  const old = (await RuntimeState.open(topology, h.client, undefined, { assignment: { instance: 0, instances: 2 }, instance: '0' }))!;
  t.after(() => old.close());
  await assert.rejects(RuntimeState.open(topology, h.client, undefined, { assignment: { instance: 2, instances: 3 }, instance: '2' }),
    (error: Error & { code?: string }) => error.code === 'STATE_STORE_ERROR' && /partition 2 of store "totals"/.test(error.message));
  assert.deepEqual([...old.stores.get('totals')!.parts.keys()], [0, 2], 'the running instance keeps its partitions');
  assert.ok((await readdir(join(h.stateDir, 'shared', 'units', 'state', 'totals', 'p2'))).includes('LOCK'), 'its partition 2 files are still there');
});

test('unfinished journal entries: refused under another index or count, not under the same layout, nor between --instances 1 and no --instances (one instance owns every partition either way)', async () => {
  const { checkUnfinished } = await import('../../src/runtime/state/partition-ownership.js');
  const was = (instance: number | null, instances: number | null) => ({ version: 1 as const, instance, instances, stores: {} });
  assert.doesNotThrow(() => checkUnfinished(was(1, 2), { instance: 1, instances: 2 }, 5, 'p.json'));
  assert.doesNotThrow(() => checkUnfinished(was(1, 2), { instance: 1, instances: 3 }, 0, 'p.json'), 'nothing unfinished');
  assert.doesNotThrow(() => checkUnfinished(undefined, { instance: 1, instances: 3 }, 5, 'p.json'), 'no record');
  assert.doesNotThrow(() => checkUnfinished(was(0, 1), undefined, 5, 'p.json'));
  assert.doesNotThrow(() => checkUnfinished(was(null, null), { instance: 0, instances: 1 }, 5, 'p.json'));
  assert.throws(() => checkUnfinished(was(1, 2), { instance: 1, instances: 3 }, 5, 'p.json'), /5 unfinished entries of partitioned sources, read when it last ran as instance 1 of 2 \(p\.json\); it now starts as instance 1 of 3/);
  assert.throws(() => checkUnfinished(was(1, 2), undefined, 1, 'p.json'), /1 unfinished entry .* it now starts without --instances.*run it again with --instances 2 --instance 1 --until-idle/);
});
