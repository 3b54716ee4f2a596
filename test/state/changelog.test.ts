import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyValueStore, changelogTopic, decodeChangelogEntry, encodeChangelogEntries, MAX_CHANGELOG_ENTRY_CHARS, storeDir } from '../../src/state/index.js';
import { startTestBroker } from '../helpers/broker.js';
import { tempDir } from './helpers.js';
import { topicIo } from './walrus-topic.js';

async function fill(store: KeyValueStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const cs = store.changeSet();
    cs.put(`k${i % 37}`, { i, text: `v${i} trailing space ` });
    if (i % 5 === 0) cs.delete(`k${(i + 3) % 37}`);
    if (i % 50 === 0) cs.put(`big${i}`, 'x'.repeat(30_000)); // forces multi-entry change sets
    await store.commit(cs, [`r${i}`]);
  }
}

const dump = (s: KeyValueStore) => s.range().map((e) => [e.key, e.value]);

test('changelog entries are text-safe, split to fit a frame and decode back', () => {
  const writes: Array<[string, Uint8Array | null]> = Array.from({ length: 5 }, (_, i) => [`k${i}`, new Uint8Array(30_000).fill(i)]);
  writes.push(['gone', null]);
  const entries = encodeChangelogEntries('s', 7, writes);
  assert.ok(entries.length >= 3, `split into ${entries.length} entries`);
  for (const e of entries) {
    assert.ok(e.length <= MAX_CHANGELOG_ENTRY_CHARS);
    assert.match(e, /^wsc1:[A-Za-z0-9+/=]+$/);
  }
  const back = entries.flatMap((e) => decodeChangelogEntry(e)!.writes);
  assert.deepEqual(back.map(([k, v]) => [k, v === null ? null : Buffer.from(v)]), writes.map(([k, v]) => [k, v === null ? null : Buffer.from(v)]));
  assert.equal(decodeChangelogEntry('plain text from walrus-cli'), undefined);
  assert.equal(decodeChangelogEntry('wsc1:!!notbase64msgpack'), undefined);
});

test('restore from the changelog into an empty state dir gives identical state, and re-publishes it compacted', async (t) => {
  const node = await startTestBroker();
  const { dir, cleanup } = await tempDir();
  t.after(async () => { await node.close(); await cleanup(); });
  const topic = changelogTopic('orders', 'totals');
  const io = await topicIo(node.port, topic);
  t.after(() => io.close());

  const original = await KeyValueStore.open({ dir: storeDir(`${dir}/a`, 'orders', 'totals'), name: 'totals', changelog: { publish: io.publish } });
  await fill(original, 300);
  const expected = dump(original);
  await original.close();
  // Someone else's plain entry in the topic is skipped, not fatal.
  await io.publish(['hello from walrus-cli']);

  const restored = await KeyValueStore.open({ dir: storeDir(`${dir}/b`, 'orders', 'totals'), name: 'totals', changelog: { publish: io.publish } });
  const report = await restored.restoreFromChangelog(io.fetch);
  assert.deepEqual(dump(restored), expected);
  assert.equal(report.skipped, 1);
  assert.equal(report.keys, expected.length);
  assert.ok(report.applied >= 300);
  await restored.close();

  // The restore consumed the topic (GET is destructive) and re-published a compacted snapshot:
  // a second empty dir restores the same state from far fewer entries.
  const again = await KeyValueStore.open({ dir: storeDir(`${dir}/c`, 'orders', 'totals'), name: 'totals', changelog: { publish: io.publish } });
  const second = await again.restoreFromChangelog(io.fetch);
  assert.deepEqual(dump(again), expected);
  assert.ok(second.entries < report.entries / 10, `compacted: ${second.entries} entries vs ${report.entries}`);
  // And the restored store keeps working: new commits go to the changelog.
  const cs = again.changeSet();
  cs.put('after', 1);
  await again.commit(cs);
  await again.close();
  const tail = (await io.drain()).map((e) => decodeChangelogEntry(e)!);
  assert.ok(tail.some((e) => e.writes.some(([k]) => k === 'after')));
});

test('restore refuses a non-empty store; an interrupted restore resumes', async (t) => {
  const node = await startTestBroker();
  const { dir, cleanup } = await tempDir();
  t.after(async () => { await node.close(); await cleanup(); });
  const io = await topicIo(node.port, 'app-s-changelog', 20);
  t.after(() => io.close());
  const src = await KeyValueStore.open({ dir: `${dir}/src`, name: 's', changelog: { publish: io.publish } });
  await fill(src, 100);
  const expected = dump(src);
  await assert.rejects(src.restoreFromChangelog(io.fetch), /is not empty .* restore only into an empty state directory/);
  await src.close();

  const target = await KeyValueStore.open({ dir: `${dir}/dst`, name: 's', changelog: { publish: io.publish } });
  let calls = 0;
  const failing = async () => {
    if (++calls === 3) throw new Error('connection lost');
    return io.fetch();
  };
  await assert.rejects(target.restoreFromChangelog(failing), /connection lost/);
  await target.close();
  const resumed = await KeyValueStore.open({ dir: `${dir}/dst`, name: 's', changelog: { publish: io.publish } });
  assert.equal(resumed.restoreIncomplete, true);
  await resumed.restoreFromChangelog(io.fetch);
  assert.equal(resumed.restoreIncomplete, false);
  assert.deepEqual(dump(resumed), expected, 'batches fetched before the failure were kept locally');
  await resumed.close();
});

test('a failing changelog publish is retried; commits resolve only once published', async (t) => {
  const node = await startTestBroker();
  const { dir, cleanup } = await tempDir();
  t.after(async () => { await node.close(); await cleanup(); });
  const io = await topicIo(node.port, 'app-r-changelog');
  t.after(() => io.close());
  let failures = 2;
  const errors: number[] = [];
  const store = await KeyValueStore.open({
    dir, name: 'r',
    changelog: {
      publish: async (entries) => {
        if (failures-- > 0) throw new Error('node unreachable');
        await io.publish(entries);
      },
      initialRetryDelayMs: 1,
      onPublishError: (_e, attempt) => errors.push(attempt),
    },
  });
  const cs = store.changeSet();
  cs.put('k', 1);
  await store.commit(cs);
  assert.deepEqual(errors, [1, 2]);
  assert.equal((await io.drain()).length, 1);
  await store.close();
});

test('commits made while the changelog was not attached are published when the store opens with it', async (t) => {
  const node = await startTestBroker();
  const { dir, cleanup } = await tempDir();
  t.after(async () => { await node.close(); await cleanup(); });
  const io = await topicIo(node.port, 'app-u-changelog');
  t.after(() => io.close());
  // A crash between the local commit and the publish leaves the same situation: log ahead of the cursor.
  const local = await KeyValueStore.open({ dir: `${dir}/a`, name: 'u' });
  await fill(local, 20);
  const expected = dump(local);
  await local.close();
  const withLog = await KeyValueStore.open({ dir: `${dir}/a`, name: 'u', changelog: { publish: io.publish } });
  await withLog.close();
  const fresh = await KeyValueStore.open({ dir: `${dir}/b`, name: 'u' });
  await fresh.restoreFromChangelog(io.fetch);
  assert.deepEqual(dump(fresh), expected);
  await fresh.close();
});

test('close while Walrus is down: close returns, waiting commits fail with SHUTTING_DOWN, the next open publishes them', async (t) => {
  const node = await startTestBroker();
  const { dir, cleanup } = await tempDir();
  t.after(async () => { await node.close(); await cleanup(); });
  const io = await topicIo(node.port, 'app-d-changelog');
  t.after(() => io.close());
  const down = await KeyValueStore.open({
    dir, name: 'd',
    changelog: { publish: async () => { throw new Error('ECONNREFUSED'); }, initialRetryDelayMs: 5, maxRetryDelayMs: 20 },
  });
  const cs = down.changeSet();
  cs.put('k', 'v');
  const commit = assert.rejects(down.commit(cs, ['r1']), (e: Error & { code?: string }) => e.code === 'SHUTTING_DOWN');
  await new Promise((r) => setTimeout(r, 30));
  await down.close();
  await commit;

  // Locally committed all the same; published as soon as a store opens with a working changelog.
  const up = await KeyValueStore.open({ dir, name: 'd', changelog: { publish: io.publish } });
  assert.ok(up.hasApplied('r1'));
  await up.close();
  const fresh = await KeyValueStore.open({ dir: `${dir}-fresh`, name: 'd' });
  t.after(() => import('node:fs/promises').then((fs) => fs.rm(`${dir}-fresh`, { recursive: true, force: true })));
  await fresh.restoreFromChangelog(io.fetch);
  assert.equal(fresh.get('k'), 'v');
  await fresh.close();
});

test('changelog through WalrusClient on a stock-mode node (no batch commands): identical restore', async (t) => {
  const { WalrusClient } = await import('../../src/client/index.js');
  const node = await startTestBroker({ compat: 'stock' });
  const { dir, cleanup } = await tempDir();
  const client = new WalrusClient({ nodes: [node.address] });
  t.after(async () => { await client.close(); await node.close(); await cleanup(); });
  const topic = changelogTopic('stock', 's');
  await client.register(topic);
  const store = await KeyValueStore.open({ dir: `${dir}/a`, name: 's', changelog: { publish: (e) => client.putMany(topic, e) } });
  await fill(store, 120);
  const expected = dump(store);
  await store.close();
  assert.equal(client.capabilities(node.address).batchPut, false);
  const fresh = await KeyValueStore.open({ dir: `${dir}/b`, name: 's', changelog: { publish: (e) => client.putMany(topic, e) } });
  await fresh.restoreFromChangelog(() => client.getMany(topic, 500));
  assert.deepEqual(dump(fresh), expected);
  await fresh.close();
});
