import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WalrusClient, type Lease } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { KeyValueStore, changelogTopic } from '../../src/state/index.js';
import { startTestBroker } from '../helpers/broker.js';
import { tempDir } from './helpers.js';

/** Commits with puts, deletes and keys written once (`big<i>`, `once<i>`): a lost changelog batch shows in the state. */
async function fill(store: KeyValueStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const cs = store.changeSet();
    cs.put(`k${i % 37}`, { i });
    cs.put(`once${i}`, i);
    if (i % 5 === 0) cs.delete(`k${(i + 3) % 37}`);
    if (i % 50 === 0) cs.put(`big${i}`, 'x'.repeat(30_000));
    await store.commit(cs, [`r${i}`]);
  }
}

const dump = (s: KeyValueStore) => s.range().map((e) => [e.key, e.value]);

async function setup(t: { after(fn: () => Promise<void> | void): void }, name: string, commits = 120) {
  const node = await startTestBroker();
  const { dir, cleanup } = await tempDir();
  const client = new WalrusClient({ nodes: [node.address], retry: { retries: 0 } });
  t.after(async () => { await client.close(); await node.close(); await cleanup(); });
  const topic = changelogTopic('app', name);
  await client.register(topic);
  const publish = (entries: string[]) => client.putMany(topic, entries);
  const source = await KeyValueStore.open({ dir: `${dir}/source`, name, fsync: 'never', changelog: { publish } });
  await fill(source, commits);
  const expected = dump(source);
  await source.close();
  const open = (sub: string, onPublish?: () => Promise<void>) => KeyValueStore.open({
    dir: `${dir}/${sub}`, name, fsync: 'never',
    changelog: { publish: async (entries) => { await onPublish?.(); await publish(entries); } },
  });
  return { node, client, topic, expected, open };
}

test('a leased restore acknowledges nothing until the restored state is re-published, then every lease in the order read', async (t) => {
  const { client, topic, expected, open } = await setup(t, 'order');
  const leased: number[] = [];
  const acked: number[] = [];
  let openAtRepublish: number | undefined;
  const store = await open('restored', async () => { openAtRepublish ??= (await client.state(topic)).openLeases; });
  const fetch = async () => {
    const lease = await client.lease(topic, 7);
    if (lease.leaseId === undefined) return lease;
    leased.push(lease.leaseId);
    return { entries: lease.entries, ack: () => { acked.push(lease.leaseId!); return lease.ack(); } };
  };
  await store.restoreFromChangelog(fetch, undefined, topic, async () => (await client.state(topic)).openLeases);
  assert.deepEqual(dump(store), expected);
  assert.ok(leased.length > 5);
  assert.equal(openAtRepublish, leased.length, 'every lease still open while the state was re-published');
  assert.deepEqual(acked, leased, 'then acknowledged, oldest first');
  assert.equal((await client.state(topic)).openLeases, 0);
  await store.close();
  // What is left on the topic is the re-publish alone: it restores the same state.
  const again = await open('again');
  await again.restoreFromChangelog(() => client.lease(topic, 50));
  assert.deepEqual(dump(again), expected);
  await again.close();
});

test('a restorer that stopped mid-restore holding its leases (frozen, its connection open): the next owner releases them and restores everything', async (t) => {
  const { node, topic, expected, open } = await setup(t, 'frozen');
  const frozenClient = new WalrusClient({ nodes: [node.address], retry: { retries: 0 } });
  t.after(() => frozenClient.close());
  const frozen = await open('frozen');
  let calls = 0;
  const stopping = async (): Promise<Lease> => {
    if (++calls === 6) throw new Error('frozen');
    return frozenClient.lease(topic, 5);
  };
  await assert.rejects(frozen.restoreFromChangelog(stopping), /frozen/);
  // Its connection stays open: its 5 leases are hidden from every other reader until released.
  const owner = new WalrusClient({ nodes: [node.address] });
  t.after(() => owner.close());
  assert.equal((await owner.state(topic)).openLeases, 5);
  assert.equal(await owner.releaseLeases(topic), 25);
  const next = await open('next');
  await next.restoreFromChangelog(() => owner.lease(topic, 5), undefined, topic, async () => (await owner.state(topic)).openLeases);
  assert.deepEqual(dump(next), expected);
  await next.close();
  await frozen.close();
});

test('leases of a restore released while it held them (a closed connection, a node lease timeout): it stops unfinished, and the next start restores the exact state', async (t) => {
  const { node, client, topic, expected, open } = await setup(t, 'lost');
  const store = await open('restored');
  // The restore's own connection, closed below like a process that stopped.
  const leaser = new WalrusClient({ nodes: [node.address], retry: { retries: 0 } });
  let calls = 0;
  const fetch = async () => {
    // Someone releases this restore's leases part-way: they come again, after newer entries were read.
    if (++calls === 4) await client.releaseLeases(topic);
    return leaser.lease(topic, 5);
  };
  await assert.rejects(store.restoreFromChangelog(fetch, undefined, topic, async () => (await client.state(topic)).openLeases),
    (e: WalrusError) => e.code === 'STATE_STORE_ERROR' && e.retriable && /leases this restore held .* were released/.test(e.message));
  await store.close();
  await leaser.close();
  const resumed = await open('restored');
  assert.equal(resumed.restoreIncomplete, true);
  await resumed.restoreFromChangelog(() => client.lease(topic, 5), undefined, topic, async () => (await client.state(topic)).openLeases);
  assert.deepEqual(dump(resumed), expected);
  await resumed.close();
});

test('a changelog longer than the node lets one connection lease at once (4,096): the restore acknowledges what it holds and goes on', { timeout: 60_000 }, async (t) => {
  const { client, topic, expected, open } = await setup(t, 'many', 4_200);
  const store = await open('restored');
  const single = new WalrusClient({ nodes: [client.options.nodes[0]!], pool: { min: 1, max: 1 } });
  t.after(() => single.close());
  const report = await store.restoreFromChangelog(() => single.lease(topic, 1), undefined, topic, async () => (await single.state(topic)).openLeases);
  assert.ok(report.entries > 4_096);
  assert.deepEqual(dump(store), expected);
  assert.equal((await single.state(topic)).openLeases, 0);
  await store.close();
});

test('a restore whose re-publish is refused because the process lost its ownership (frozen past its lease) stops instead of retrying for ever', async (t) => {
  const { client, topic, open } = await setup(t, 'fenced', 20);
  let refused = 0;
  const store = await open('restored', async () => {
    if (refused++ === 0) throw new WalrusError('OWNERSHIP_CONFLICT', 'ownership of partition topic "x" was lost to another owner', { retriable: false });
  });
  await assert.rejects(store.restoreFromChangelog(() => client.lease(topic, 5), undefined, topic, async () => (await client.state(topic)).openLeases),
    (e: WalrusError) => e.code === 'OWNERSHIP_CONFLICT');
  assert.equal(refused, 1, 'not tried again');
  assert.ok(((await client.state(topic)).openLeases ?? 0) > 0, 'nothing acknowledged: the leases stay for whoever restores next');
  await store.close();
});
