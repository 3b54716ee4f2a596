import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadTopologyText } from '../../src/topology/index.js';
import { planStageGroups } from '../../src/topology/stage-groups.js';
import { planRepartitions, withRepartitions } from '../../src/topology/repartition.js';
import { WalrusError } from '../../src/errors/index.js';

const dir = fileURLToPath(new URL('../fixtures/processors/', import.meta.url));

async function load(yaml: string) {
  return (await loadTopologyText(yaml, `${dir}topology.yaml`, { env: {} })).topology;
}

const base = (o: { sourceParts?: number; storeParts?: number; rekey?: boolean; extra?: string }) => `
app: shop
sources:
  in: { topic: in, partitions: ${o.sourceParts ?? 4}, poll: { batchSize: 7 } }
processors:
  parse: { module: ./pid-tag.ts, input: in, rekey: ${o.rekey ?? true} }
  count: { module: ./state-count.ts, input: parse, ordering: key, stores: [totals] }
  log: { module: ./pid-tag.ts, input: parse }
${o.extra ?? ''}
stores:
  totals: { partitions: ${o.storeParts ?? 4} }
`;

test('a partitioned re-key before a keyed step becomes an internal sink and source; unkeyed readers stay fused', async () => {
  const t = await load(base({}));
  const rewritten = withRepartitions(t);
  const source = rewritten.sources['repartition:parse']!;
  const sink = rewritten.sinks['repartition:parse']!;
  assert.equal(source.topic, 'shop-parse-repartition');
  assert.equal(source.partitions, 4);
  assert.equal(source.internal, 'repartition');
  assert.equal(source.poll.batchSize, 7, 'polled like the source upstream');
  assert.equal(source.serializer, 'msgpack');
  assert.deepEqual(sink.input, { processor: 'parse', output: 'default' });
  assert.equal(sink.partitions, 4);
  assert.deepEqual(rewritten.processors.count!.inputs, [{ kind: 'source', name: 'repartition:parse', topic: 'shop-parse-repartition' }]);
  assert.deepEqual(rewritten.processors.log!.inputs, t.processors.log!.inputs, 'an unkeyed reader of the re-keyed output is not repartitioned');
  const groups = planStageGroups(rewritten);
  assert.equal(groups.find((g) => g.head === 'count')?.reason, 'reads a source');
  assert.deepEqual(withRepartitions(rewritten), rewritten, 'idempotent');
  assert.deepEqual(Object.keys(t.sources), ['in'], 'the loaded topology is not changed');
});

test('the partition count is the keyed step\'s stores\', else the sources\'; nothing partitioned or no re-key: no repartition', async () => {
  assert.equal(planRepartitions(await load(base({ sourceParts: 1, storeParts: 3 })))[0]?.partitions, 3);
  assert.equal(planRepartitions(await load(base({ sourceParts: 6, storeParts: 1 })))[0]?.partitions, 6);
  assert.deepEqual(planRepartitions(await load(base({ sourceParts: 1, storeParts: 1 }))), []);
  assert.deepEqual(planRepartitions(await load(base({ rekey: false }))), []);
});

test('a re-key further up the chain still counts; a keyed step between resets it', async () => {
  const t = await load(`
app: shop
sources:
  in: { topic: in, partitions: 2 }
processors:
  parse: { module: ./pid-tag.ts, input: in, rekey: true }
  enrich: { module: ./pid-tag.ts, input: parse }
  count: { module: ./state-count.ts, input: enrich, ordering: key, stores: [totals] }
  again: { module: ./state-count.ts, input: count, ordering: key, stores: [more] }
stores:
  totals: { partitions: 2 }
  more: { partitions: 2 }
`);
  const found = planRepartitions(t);
  assert.deepEqual(found.map((r) => [r.name, r.to]), [['repartition:enrich', ['count']]]);
});

test('a repartition topic that is already a topic of the topology is refused, naming both', async () => {
  const t = await load(base({ extra: 'sinks:\n  out: { topic: shop-parse-repartition.p2, input: log }' }));
  assert.throws(() => withRepartitions(t), (e: unknown) => e instanceof WalrusError && e.code === 'CONFIG_INVALID'
    && /repartition topic "shop-parse-repartition" \(4 partitions\), but the Walrus topic "shop-parse-repartition.p2" is already sink "out"/.test(e.message));
});
