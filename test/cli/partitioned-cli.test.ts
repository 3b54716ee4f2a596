import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { WalrusClient } from '../../src/client/index.js';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { main } from '../../src/cli/main.js';
import { buildDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { replayEntries } from '../../src/cli/commands/dlq-replay.js';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { startTestBroker } from '../helpers/broker.js';

// `store`, `state` and `dlq replay` understand partitioned stores and topics (docs/scaling.md).

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

async function cli(args: string[], cwd = process.cwd()): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { stdout, stderr, stdin: process.stdin, env: {}, cwd });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const node = await startTestBroker();
  const client = new WalrusClient({ nodes: [node.address] });
  const dir = await mkdtemp(join(tmpdir(), 'walrus-pcli-'));
  t.after(async () => {
    await client.close();
    await node.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { node, client, dir };
}

test('store: a partitioned store reads the partitions its instances hold, merged in key order; a stale copy only with --partition', async (t) => {
  const { dir } = await setup(t);
  const stateDir = join(dir, 'state');
  const write = async (partition: number, entries: Array<[string, number]>) => {
    const store = await KeyValueStore.open({ dir: join(storeDir(stateDir, 'shop', 'totals'), `p${partition}`), name: 'totals', partition });
    const cs = store.changeSet();
    for (const [k, v] of entries) cs.put(k, v);
    await store.commit(cs);
    await store.close();
  };
  await write(0, [['b', 2], ['d', 4]]);
  await write(3, [['a', 1], ['c', 3]]);
  await write(1, [['stale', 99]]);
  // Instance 0 of 2 held p0 and p3 at its last start (after 1 had moved away).
  await mkdir(join(stateDir, 'shop', 'instances', '0'), { recursive: true });
  await writeFile(join(stateDir, 'shop', 'instances', '0', 'partitions.json'), JSON.stringify({ version: 1, instance: 0, instances: 2, stores: { totals: { partitions: 4, owned: [0, 3] } } }));

  const all = await cli(['store', 'totals', '--app', 'shop', '--state-dir', stateDir, '--json']);
  assert.equal(all.code, 0, all.stderr);
  const parsed = JSON.parse(all.stdout) as { entries: Array<{ key: string; value: number }>; stale: number[]; partitions: Array<{ partition: number; keys: number }>; keys: number };
  assert.deepEqual(parsed.entries, [{ key: 'a', value: 1 }, { key: 'b', value: 2 }, { key: 'c', value: 3 }, { key: 'd', value: 4 }]);
  assert.deepEqual(parsed.stale, [1]);
  assert.deepEqual(parsed.partitions.map((p) => [p.partition, p.keys]), [[0, 2], [3, 2]]);
  const text = await cli(['store', 'totals', '--app', 'shop', '--state-dir', stateDir]);
  assert.match(text.stdout, /store totals \(app shop\): 4 keys in partitions p0 commit 1, p3 commit 1; stale local copies not shown: p1/);
  const one = await cli(['store', 'totals', 'stale', '--app', 'shop', '--state-dir', stateDir, '--partition', '1', '--json']);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual((JSON.parse(one.stdout) as { entries: unknown[] }).entries, [{ key: 'stale', value: 99 }]);
  const key = await cli(['store', 'totals', 'c', '--app', 'shop', '--state-dir', stateDir]);
  assert.match(key.stdout, /^c\t3$/m);
  const absent = await cli(['store', 'totals', 'stale', '--app', 'shop', '--state-dir', stateDir]);
  assert.equal(absent.code, 1, 'a key of a stale copy is not shown without --partition');
  const bad = await cli(['store', 'totals', '--app', 'shop', '--state-dir', stateDir, '--partition', 'x']);
  assert.equal(bad.code, 2);
});

test('state --partitions shows every partition and the sums; --partition one', async (t) => {
  const { node, client } = await setup(t);
  for (let p = 0; p < 3; p += 1) {
    await client.register(`orders.p${p}`);
    await client.putMany(`orders.p${p}`, Array.from({ length: p + 1 }, (_, i) => `e${i}`));
  }
  const all = await cli(['state', 'orders', '--partitions', '3', '--nodes', node.address]);
  assert.equal(all.code, 0, all.stderr);
  const parsed = JSON.parse(all.stdout) as { lag: number; totalEntries: number; partitionStates: Array<{ topic: string; lag: number }> };
  assert.equal(parsed.lag, 6);
  assert.equal(parsed.totalEntries, 6);
  assert.deepEqual(parsed.partitionStates.map((s) => [s.topic, s.lag]), [['orders.p0', 1], ['orders.p1', 2], ['orders.p2', 3]]);
  const one = await cli(['state', 'orders', '--partitions', '3', '--partition', '2', '--nodes', node.address]);
  assert.equal((JSON.parse(one.stdout) as { topic: string; lag: number }).lag, 3);
  const out = await cli(['state', 'orders', '--partitions', '3', '--partition', '3', '--nodes', node.address]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /--partition 3 is out of range: the topic has 3 partitions \(0\.\.2\)/);
});

test('dlq replay --partitions replays every partition of a dead-letter topic, --partition one, -n across them', async (t) => {
  const { node, client, dir } = await setup(t);
  await client.register('orders');
  const letter = (n: number) => buildDeadLetter({
    entry: `order ${n}`, error: { name: 'Error', message: 'boom', code: 'PROCESSOR_ERROR', retriable: true },
    processor: 'parse', attempts: 1, firstFailureAt: 0, lastFailureAt: 0, sourceTopic: 'orders', recordId: `r${n}`,
  });
  for (let p = 0; p < 2; p += 1) {
    await client.register(`orders.dlq.p${p}`);
    await client.putMany(`orders.dlq.p${p}`, [letter(p * 10), letter(p * 10 + 1)]);
  }
  const one = await cli(['dlq', 'replay', 'orders.dlq', '--partitions', '2', '--partition', '1', '--nodes', node.address, '--state-dir', join(dir, 'r1'), '--json']);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual((JSON.parse(one.stdout) as { replayed: Record<string, number> }).replayed, { orders: 2 });
  await client.putMany('orders.dlq.p1', [letter(12)]);
  const capped = await cli(['dlq', 'replay', 'orders.dlq', '--partitions', '2', '-n', '1', '--nodes', node.address, '--state-dir', join(dir, 'r2'), '--json']);
  assert.equal((JSON.parse(capped.stdout) as { replayed: Record<string, number> }).replayed.orders, 1);
  const rest = await cli(['dlq', 'replay', 'orders.dlq', '--partitions', '2', '--nodes', node.address, '--state-dir', join(dir, 'r3')]);
  assert.equal(rest.code, 0, rest.stderr);
  assert.match(rest.stdout, /replayed 2 record\(s\) \(2 → orders\); kept 0 on orders\.dlq's 2 partitions/);
  const replayed: string[] = [];
  for (;;) {
    const got = await client.getMany('orders', 100);
    if (got.length === 0) break;
    replayed.push(...got.map((b) => b.toString('utf8')));
  }
  assert.deepEqual(replayed.sort(), ['order 0', 'order 1', 'order 10', 'order 11', 'order 12']);
});

test('dlq replay --to-partitions routes each dead letter of a partitioned source to its key\'s partition', async (t) => {
  const { node, client, dir } = await setup(t);
  const letter = (n: number, key: string | undefined) => buildDeadLetter({
    entry: `order ${n}`, error: { name: 'Error', message: 'boom', code: 'PROCESSOR_ERROR', retriable: true },
    processor: 'parse', attempts: 1, firstFailureAt: 0, lastFailureAt: 0, sourceTopic: 'orders', recordId: `r${n}`, key,
  });
  await client.register('orders.dlq');
  // customer-1 → partition 3 of 4, customer-2 → 2 (docs/scaling.md test vectors); a keyless one by its id.
  await client.putMany('orders.dlq', [letter(1, 'customer-1'), letter(2, 'customer-2'), letter(3, undefined)]);
  const r = await cli(['dlq', 'replay', 'orders.dlq', '--to-partitions', '4', '--nodes', node.address, '--state-dir', join(dir, 'r'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const replayed = (JSON.parse(r.stdout) as { replayed: Record<string, number> }).replayed;
  const expected: Record<string, number> = {};
  for (const k of ['customer-1', 'customer-2', 'r3']) expected[`orders.p${partitionOfKey(k, 4)}`] = (expected[`orders.p${partitionOfKey(k, 4)}`] ?? 0) + 1;
  assert.deepEqual(replayed, expected);
  assert.equal(partitionOfKey('customer-1', 4), 3);
  assert.equal(replayed.orders, undefined, 'nothing goes to the logical topic, which no instance reads');
  // The dashboard's replay takes the count per topic from the topology's sources.
  const direct = await replayEntries(client, [letter(4, 'customer-1'), letter(5, 'x')], { targetPartitions: (topic) => (topic === 'orders' ? 4 : 1) });
  assert.deepEqual(direct.results.map((r) => r.ok && r.topic), ['orders.p3', `orders.p${partitionOfKey('x', 4)}`]);
  const bad = await cli(['dlq', 'replay', 'orders.dlq', '--to-partitions', '0', '--nodes', node.address]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--to-partitions expects a whole number/);
});
