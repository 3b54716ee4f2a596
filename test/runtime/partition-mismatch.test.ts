import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WalrusClient } from '../../src/client/index.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { checkPartitionCounts } from '../../src/runtime/pipeline/partition-check.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { fixture, harness, type Harness } from './harness.js';

// `run` refuses partition counts that disagree with topics or local state already in use
// (PARTITION_MISMATCH), from what the node tells through STATE.

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const yaml = (app: string, topic: string, sourceParts: number, storeParts: number) => `
app: ${app}
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: ${topic}, partitions: ${sourceParts} }
processors:
  count: { module: ${fixture('state-count.ts')}, input: in, ordering: key, stores: [totals] }
stores:
  totals: { partitions: ${storeParts} }
`;

const record = (k: string) => ({ key: k, value: { amount: 1, i: 0 } });

test('a plain topic holding entries while the topology partitions it is refused, naming the topic and the count', { timeout: 30_000 }, async () => {
  await h.produce('plain-in', [record('a')]);
  await assert.rejects(h.run(yaml('plain', 'plain-in', 4, 4)), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'PARTITION_MISMATCH');
    assert.match(error.message, /sources\.in: topic "plain-in" holds 1 unread entry, but the topology says "plain-in" has 4 partitions/);
    assert.match(error.message, /finish reading it with the old count first/);
    return true;
  });
  // An empty plain topic is no obstacle: nothing would be lost.
  await h.drainEntries('plain-in');
  const summary = await h.run(yaml('plain', 'plain-in', 4, 4));
  assert.equal(summary.sources.in?.records ?? 0, 0);
});

test('partitions beyond the count holding entries (orders.p4 with partitions: 4) are refused; an unpartitioned topic with .p0 too', { timeout: 30_000 }, async () => {
  await h.produce('shrunk-in.p4', [record('b')]);
  await assert.rejects(h.run(yaml('shrunk', 'shrunk-in', 4, 4)), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'PARTITION_MISMATCH');
    assert.match(error.message, /topic "shrunk-in\.p4" holds 1 unread entry, but the topology says "shrunk-in" has 4 partitions, so nothing reads partition 4/);
    return true;
  });
  await h.produce('was-split.p0', [record('c')]);
  await assert.rejects(h.run(yaml('unsplit', 'was-split', 1, 1)), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'PARTITION_MISMATCH');
    assert.match(error.message, /topic "was-split\.p0" holds 1 unread entry, but the topology says "was-split" is not partitioned/);
    return true;
  });
});

test('a store run with other partitions than its local state or changelog is refused (shrunk, grown, unpartitioned, partitioned)', { timeout: 60_000 }, async () => {
  // A first run leaves state in 4 partitions: local files, the ownership record, and the changelogs .p0..p3
  // (k2 is in partition 0 and k1 in partition 1 of 4, and of 2).
  await h.produce('st-in.p0', [record('k2')]);
  await h.produce('st-in.p1', [record('k1')]);
  await h.run(yaml('st', 'st-in', 4, 4));
  const refused = (pattern: RegExp) => (error: Error & { code?: string }) => {
    assert.equal(error.code, 'PARTITION_MISMATCH', error.message);
    assert.match(error.message, pattern);
    return true;
  };
  // Same stateDir, 2 partitions: the topics allow it (p2, p3 are empty), the local record does not.
  await assert.rejects(h.run(yaml('st', 'st-in', 2, 2)), refused(/this instance last ran store "totals" in 4 partition\(s\).*the topology now says partitions: 2; .*go back to partitions: 4/s));
  // Unpartitioned: the changelog's partition 0 holds state nothing would read.
  await assert.rejects(h.run(yaml('st', 'st-in', 1, 1)), refused(/stores\.totals \(changelog\): topic "st-totals-changelog\.p0" holds 1 unread entry, but the topology says "st-totals-changelog" is not partitioned/));
  // A new machine (another stateDir) with 8 partitions: the changelog's .p0, .p1 hold state, .p7 does not exist.
  const fresh = join(h.stateDir, 'fresh-machine');
  const { topology } = await loadTopologyText(yaml('st', 'st-in', 8, 8), join(fresh, 'topology.yaml'), { env: { STATE_DIR: fresh } });
  await assert.rejects(checkPartitionCounts(topology, h.client), refused(/changelog partition "st-totals-changelog\.p0" holds state but "st-totals-changelog\.p7" does not exist: the store was partitioned fewer than 8 ways before/));
  // Local layouts: unpartitioned files under a store now partitioned, and partition directories under one now unpartitioned.
  await mkdir(join(h.stateDir, 'flat', 'state', 'totals'), { recursive: true });
  await writeFile(join(h.stateDir, 'flat', 'state', 'totals', 'commits.log'), '');
  await assert.rejects(h.run(yaml('flat', 'flat-in', 4, 4)), refused(/holds the state of store "totals" unpartitioned, the topology now says partitions: 4/));
  await mkdir(join(h.stateDir, 'split', 'state', 'totals', 'p0'), { recursive: true });
  await assert.rejects(h.run(yaml('split', 'split-in', 1, 1)), refused(/holds store "totals" in partitions \(p0\), the topology now says it is unpartitioned/));
});

test('on a stock node (no lag in STATE) a stray partition topic is a warning, not a refusal', { timeout: 30_000 }, async () => {
  const stock: TestBroker = await startTestBroker({ compat: 'stock' });
  const client = new WalrusClient({ nodes: [stock.address] });
  try {
    await client.register('s-in');
    await client.put('s-in', 'x');
    const { topology } = await loadTopologyText(yaml('s', 's-in', 4, 4), join(h.stateDir, 'stock', 'topology.yaml'), { env: { STATE_DIR: join(h.stateDir, 'stock') } });
    const warnings = await checkPartitionCounts(topology, client);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /sources\.in: topic "s-in" exists .* the node does not report whether it holds unread entries/);
  } finally {
    await client.close();
    await stock.close();
  }
});

test('repartition topics are remembered in the stateDir: a renamed re-keying processor leaving unread records is refused; finished, forgotten; damaged memory or a stock node warn', { timeout: 30_000 }, async () => {
  const { checkRememberedRepartitions, repartitionMemoryPath } = await import('../../src/runtime/pipeline/repartition-memory.js');
  const { withRepartitions } = await import('../../src/topology/repartition.js');
  const dir = join(h.stateDir, 'memory');
  const rekeyed = async (name: string) => withRepartitions((await loadTopologyText(`
app: mem
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: mem-in }
processors:
  ${name}: { module: ${fixture('rekey-group.ts')}, input: in, rekey: true }
  total: { module: ${fixture('state-group.ts')}, input: ${name}, ordering: key, stores: [totals] }
stores:
  totals: { partitions: 2 }
`, join(dir, 'topology.yaml'), { env: { STATE_DIR: dir } })).topology);
  const refused = (pattern: RegExp) => (error: Error & { code?: string }) => {
    assert.equal(error.code, 'PARTITION_MISMATCH', error.message);
    assert.match(error.message, pattern);
    return true;
  };
  const path = repartitionMemoryPath(await rekeyed('rk'));
  const remembered = async () => (JSON.parse(await readFile(path, 'utf8')) as { topics: string[] }).topics;
  // A topology without a re-key writes no file.
  const { topology: plain } = await loadTopologyText(yaml('mem', 'mem-in', 1, 1), join(dir, 'topology.yaml'), { env: { STATE_DIR: dir } });
  assert.deepEqual(await checkRememberedRepartitions(plain, h.client), []);
  await assert.rejects(readFile(path), /ENOENT/);

  assert.deepEqual(await checkRememberedRepartitions(await rekeyed('rk'), h.client), []);
  assert.deepEqual(await remembered(), ['mem-rk-repartition']);
  // The run re-keyed a record into partition 1 and stopped before reading it back; then `rk` was renamed.
  await h.client.register('mem-rk-repartition.p0');
  await h.client.register('mem-rk-repartition.p1');
  await h.client.put('mem-rk-repartition.p1', 'x');
  await assert.rejects(checkRememberedRepartitions(await rekeyed('rk2'), h.client), refused(/repartition topic "mem-rk-repartition" \(remembered from an earlier run in .*\): topic "mem-rk-repartition\.p1" holds 1 unread entry, but no processor of this topology writes it any more/));
  assert.deepEqual(await remembered(), ['mem-rk-repartition'], 'a refused start changes nothing');
  // Read (finished), the old topic is forgotten and the new one remembered.
  assert.ok(await h.client.get('mem-rk-repartition.p1'));
  assert.deepEqual(await checkRememberedRepartitions(await rekeyed('rk2'), h.client), []);
  assert.deepEqual(await remembered(), ['mem-rk2-repartition']);

  // Damaged (or a hand-written list naming other apps' topics): a warning, and the file is rewritten.
  for (const [bad, why] of [['not json', 'damaged or edited'], ['{"topics":["other-x-repartition"]}', 'damaged or edited'], ['{"topics":[1]}', 'damaged or edited'],
    [' '.repeat(1024 * 1024 + 1), 'larger than 1048576 bytes']]) {
    await writeFile(path, bad!);
    const warnings = await checkRememberedRepartitions(await rekeyed('rk2'), h.client);
    assert.equal(warnings.length, 1, bad!.slice(0, 40));
    assert.match(warnings[0]!, new RegExp(`repartition-topics\\.json is not a list of repartition topics of app "mem" \\(${why}\\): it is rewritten`));
    assert.deepEqual(await remembered(), ['mem-rk2-repartition']);
  }

  // A stock node cannot say whether the old topic holds records: a warning, and it stays remembered.
  const stock: TestBroker = await startTestBroker({ compat: 'stock' });
  const client = new WalrusClient({ nodes: [stock.address] });
  try {
    await client.register('mem-rk2-repartition.p0');
    const warnings = await checkRememberedRepartitions(await rekeyed('rk3'), client);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /repartition topic "mem-rk2-repartition" .*: topic "mem-rk2-repartition\.p0" exists and no processor of this topology writes it any more .* the node does not report whether it holds unread entries/);
    assert.deepEqual(await remembered(), ['mem-rk2-repartition', 'mem-rk3-repartition']);
  } finally {
    await client.close();
    await stock.close();
  }
});
