import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadTopologyText } from '../../src/topology/index.js';
import { planStageGroups } from '../../src/topology/stage-groups.js';
import { planRepartitions, withRepartitions } from '../../src/topology/repartition.js';
import { renderGraph } from '../../src/topology/render-graph.js';
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

test('validate lists the repartition topics run will use, and refuses a taken name like run does', async () => {
  const { main } = await import('../../src/cli/main.js');
  const { Writable } = await import('node:stream');
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const sink = () => { const chunks: string[] = []; return Object.assign(new Writable({ write(c, _e, done) { chunks.push(String(c)); done(); } }), { text: () => chunks.join('') }); };
  const dirOf = await mkdtemp(join(tmpdir(), 'walrus-repartition-'));
  const run = async (yaml: string, format = 'text') => {
    const file = join(dirOf, 'topology.yaml');
    await writeFile(file, yaml.replaceAll('./', dir));
    const stdout = sink();
    const stderr = sink();
    const code = await main(['validate', file, '--format', format], { stdout, stderr, stdin: process.stdin, env: {}, cwd: dirOf }).catch((e: Error) => { stderr.write(e.message); return 1; });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  };
  const ok = await run(base({}));
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /repartition topics \(1\): parse → shop-parse-repartition \(4 partitions\) → count\n/);
  const json = await run(base({}), 'json');
  assert.deepEqual((JSON.parse(json.stdout) as { repartitions: unknown }).repartitions, [{ topic: 'shop-parse-repartition', partitions: 4, from: 'parse', to: ['count'] }]);
  const taken = await run(base({ extra: 'sinks:\n  out: { topic: shop-parse-repartition.p2, input: log }' }));
  assert.notEqual(taken.code, 0);
  assert.match(taken.stderr, /the Walrus topic "shop-parse-repartition.p2" is already sink "out"/);
});

test('graph --format text lists the repartition topics', async () => {
  const text = renderGraph(await load(base({})), 'text');
  assert.match(text, /\nrepartition topics \(.*\)\n {2}parse → shop-parse-repartition \(4 partitions\) → count\n/);
  assert.doesNotMatch(renderGraph(await load(base({ rekey: false })), 'text'), /repartition topics/);
});
