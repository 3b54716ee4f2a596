import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalrusClient } from '../../src/client/index.js';
import { encodeRecords } from '../../src/codec/index.js';
import { buildDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { Journal } from '../../src/journal/index.js';
import { MetricsHub, StatsSampler } from '../../src/observability/index.js';
import { computeRates } from '../../src/observability/progress/progress-format.js';
import { createTestDriver } from '../../src/testing/index.js';
import { diagnosticsOf, loadTopologyText } from '../../src/topology/index.js';
import { ROOT, runBuiltCli, seedProject } from '../helpers/seed-project.js';
import { fixture, harness } from '../runtime/harness.js';
import { startTestBroker } from '../helpers/broker.js';
import { runCli } from '../helpers/cli-in-process.js';

/**
 * Names a topology may use that are also keys of Object.prototype
 * (`constructor`, `toString`, `valueOf`, `hasOwnProperty`): valid source,
 * processor, sink and topic names, so a run must count them as any other.
 */


const run = (dir: string, args: string[]) => runBuiltCli(dir, args, 50_000);

test('run: a source, processors, sinks and topics named constructor, toString, valueOf and hasOwnProperty are counted in the summary — the run ended "TypeError: Object.entries is not a function" (exit 3): the source\'s counts had been added onto Object', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-proto-names-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'node_modules'));
  await symlink(ROOT, join(dir, 'node_modules', 'walrus-stream'), 'dir');
  await writeFile(join(dir, 'echo.mjs'), "import { defineProcessor } from 'walrus-stream/processor';\nexport default defineProcessor({ process: (record) => record.value });\n");
  // Odd lines pass, even lines fail (not retried) and are dead-lettered.
  await writeFile(join(dir, 'odd.mjs'), "import { defineProcessor, NonRetriableError } from 'walrus-stream/processor';\n" +
    "export default defineProcessor({ process(record) { if (Number(record.value) % 2 === 0) throw new NonRetriableError('even'); return record.value; } });\n");
  await writeFile(join(dir, 'topology.yaml'), [
    'app: protonames', 'stateDir: ./state', 'workers: 1', 'cluster:', '  embedded:', '    dataDir: ./state/node',
    'sources:',
    '  constructor: { topic: constructor, format: text, serializer: string }',
    'processors:',
    '  toString: { module: ./odd.mjs, input: constructor, deadLetter: hasOwnProperty }',
    '  valueOf: { module: ./echo.mjs, input: toString }',
    '  hasOwnProperty: { module: ./echo.mjs, input: toString, fuse: false }',
    'sinks:',
    '  constructor: { topic: toString, input: valueOf, format: text, serializer: string }',
    '  toString: { topic: valueOf, input: hasOwnProperty, format: text, serializer: string }', '',
  ].join('\n'));
  await writeFile(join(dir, 'lines.txt'), `${Array.from({ length: 20 }, (_, i) => i + 1).join('\n')}\n`);

  const r = await run(dir, ['run', 'topology.yaml', '--until-idle', '--seed', 'constructor=lines.txt', '--json', '--metrics-address', 'false']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /TypeError|\n\s+at /, 'no stack trace');
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
    sources: Record<string, { topic: string; records: number }>;
    processors: Record<string, { processed: number; deadLettered: number }>;
    sinks: Record<string, { topic: string; records: number }>;
    deadLetters: Record<string, unknown>;
  };
  // Read as maps: even TypeScript takes summary.processors.toString for Object's.
  const processors = new Map(Object.entries(summary.processors));
  assert.deepEqual(Object.entries(summary.sources).map(([name, c]) => [name, c.topic, c.records]), [['constructor', 'constructor', 20]]);
  assert.deepEqual([...processors.keys()].sort(), ['hasOwnProperty', 'toString', 'valueOf']);
  assert.equal(processors.get('toString')!.processed, 10);
  assert.equal(processors.get('toString')!.deadLettered, 10);
  assert.equal(processors.get('valueOf')!.processed, 10);
  assert.equal(processors.get('hasOwnProperty')!.processed, 10);
  assert.deepEqual(summary.sinks, { constructor: { topic: 'toString', records: 10, entries: 10 }, toString: { topic: 'valueOf', records: 10, entries: 10 } });
  assert.deepEqual(summary.deadLetters, { hasOwnProperty: 10 });
});

test('names from outside the topology that are Object.prototype keys are unknown names: run --seed, a test file\'s sources and sinks, the TestDriver — --seed valueOf=... ended "TypeError: Cannot read properties of undefined" with a stack trace, and a test case failed "A custom serializer must be an object"', { timeout: 60_000 }, async (t) => {
  const dir = await seedProject('seedproto');
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'lines.txt'), 'one\ntwo\n');
  for (const name of ['valueOf', 'constructor', 'toString']) {
    const r = await run(dir, ['run', 'topology.yaml', '--until-idle', '--seed', `${name}=lines.txt`, '--metrics-address', 'false']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^walrus-stream run: CONFIG_INVALID: --seed names source "${name}", which .*topology\\.yaml does not define \\(sources: in\\)$`, 'm'));
    assert.doesNotMatch(r.stderr, /TypeError|\n\s+at /, 'no stack trace');
  }

  await writeFile(join(dir, 'a.test.yaml'), [
    'topology: topology.yaml', 'tests:', '  - name: one',
    '    input: { valueOf: [ { value: "1" } ] }',
    '    expect: { sinks: { hasOwnProperty: [] } }', '',
  ].join('\n'));
  const r = await run(dir, ['test', 'a.test.yaml']);
  assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
  const text = `${r.stdout}\n${r.stderr}`;
  assert.match(text, /a\.test\.yaml:4:14: error: source "valueOf": unknown source; the topology has: in/);
  assert.match(text, /a\.test\.yaml:5:24: error: sink "hasOwnProperty": unknown sink; the topology has: \(none\)/);
  assert.doesNotMatch(text, /custom serializer/);

  const { topology } = await loadTopologyText('app: t\nsources: { in: { topic: in } }\nprocessors: { p: { module: ./echo.js, input: in } }\nsinks: { out: { topic: out, input: p } }\n',
    join(ROOT, 'test/fixtures/processors/topology.yaml'), { env: {} });
  const driver = await createTestDriver(topology, { logLevel: 'silent' });
  try {
    await assert.rejects(driver.pipe('constructor', { value: 1 }), /^WalrusError: unknown source "constructor"; the topology has: in$/);
    assert.throws(() => driver.output('toString'), /^WalrusError: unknown sink "toString"; the topology has: out$/);
  } finally {
    await driver.close();
  }
});

test('a journal entry of a source "constructor" that the topology no longer has is kept, as for any other name — it was counted recovered and released unprocessed (lost)', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const dir = join(h.stateDir, 'gone', 'journal');
  // What a run of a topology that had source "constructor" left when it was killed.
  const entry = encodeRecords([{ value: Buffer.from('{"i":1}') }]);
  const before = await Journal.open({ dir });
  await before.append([{ source: 'constructor', entry: Buffer.from(entry) }]);
  await before.close();
  await h.produce('in', [{ value: { i: 2 } }]);
  const summary = await h.run(`app: gone\nstateDir: \${STATE_DIR}\nworkers: 1\nsources: { in: { topic: in } }\nprocessors: { p: { module: ${fixture('echo.js')}, input: in } }\nsinks: { out: { topic: out, input: p } }\n`, { workers: 1 });
  assert.equal(summary.recovered, 0);
  assert.deepEqual((await h.drain('out')).map((r) => r.value), [{ i: 2 }]);
  const after = await Journal.open({ dir });
  try {
    assert.deepEqual(after.unreleased().map((e) => [e.source, e.entry.toString()]), [['constructor', entry]]);
  } finally {
    await after.close();
  }
});

test('validate refuses "__proto__" as a source, processor, sink, store or output name and as a config key, at its line — such a topology validated "ok" and ran without that part', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-proto-key-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'echo.mjs'), 'export default { process: (record) => record.value };\n');
  await writeFile(join(dir, 'topology.yaml'), [
    'app: protos',
    'sources:',
    '  src: { topic: in }',
    '  __proto__: { topic: in2 }',
    'processors:',
    '  p: { module: ./echo.mjs, input: src, outputs: [default, __proto__], ordering: key, stores: [s], config: { __proto__: { x: 1 }, a: 1 } }',
    '  __proto__: { module: ./echo.mjs, input: p }',
    'sinks:',
    '  out: { topic: out, input: p }',
    '  __proto__: { topic: out2, input: p }',
    'stores:',
    '  s: {}',
    '  __proto__: {}', '',
  ].join('\n'));
  const r = await run(dir, ['validate', '--no-modules']);
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  const errors = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes(': error: ')).map((l) => l.replace(/^.*topology\.yaml:/, ''));
  assert.deepEqual(errors, [
    '4:3: error: sources: "__proto__" cannot be a source name: JavaScript reserves it, and the source would be left out without a word; rename it',
    '6:59: error: processors.p.outputs: "__proto__" cannot be an output name: JavaScript reserves it, and the output would be left out without a word; rename it',
    '6:109: error: processors.p.config: "__proto__" cannot be a key of config: JavaScript reserves it, and ctx.config would be without it; rename it',
    '7:3: error: processors: "__proto__" cannot be a processor name: JavaScript reserves it, and the processor would be left out without a word; rename it',
    '10:3: error: sinks: "__proto__" cannot be a sink name: JavaScript reserves it, and the sink would be left out without a word; rename it',
    '13:3: error: stores: "__proto__" cannot be a store name: JavaScript reserves it, and the store would be left out without a word; rename it',
  ]);
  // The library says the same.
  const text = await readFile(join(dir, 'topology.yaml'), 'utf8');
  const found = await loadTopologyText(text, join(dir, 'topology.yaml'), { env: {} }).then(() => [], (e: unknown) => diagnosticsOf(e) ?? assert.fail(e as Error));
  assert.deepEqual(found.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.col}: error: ${d.message}`), errors);
});

test('the dashboard\'s frames and the progress rates of a source, processor and sink named constructor, toString, valueOf are numbers from their first sample on — a name the previous sample lacked was subtracted Object\'s own (NaN, null in JSON) and its latency read from Object.prototype', () => {
  let now = 0;
  const hub = new MetricsHub({ processMetrics: false, now: () => now });
  const counts: Record<string, { processed: number; retries: number; deadLettered: number }> = {};
  const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => counts, pending: () => ({}), latency: () => hub.processingLatency() }, { now: () => now });
  const before = sampler.sample();
  now = 2_000;
  hub.recordFetched('constructor', 400);
  hub.recordEmitted('valueOf', 100);
  Object.defineProperty(counts, 'toString', { value: { processed: 300, retries: 0, deadLettered: 0 }, enumerable: true });
  const frame = sampler.sample();
  assert.deepEqual(new Map(Object.entries(frame.sources)).get('constructor'), { records: 400, rate: 200 });
  assert.deepEqual(new Map(Object.entries(frame.sinks)).get('valueOf'), { records: 100, rate: 50 });
  assert.deepEqual(new Map(Object.entries(frame.processors)).get('toString'), { processed: 300, rate: 150, errors: 0, retries: 0, deadLettered: 0 });
  const rates = computeRates({ ...hub.progress(), at: 0, fetched: {}, emitted: {}, processed: {} }, { ...hub.progress(), at: 2_000, processed: { toString: 300 } })!;
  assert.deepEqual([rates.fetched.constructor, rates.emitted.valueOf, rates.processed.toString], [200, 50, 150]);
  assert.equal(Object.keys(before.processors).length, 0);
});

test('dlq replay counts the records it sends back to a source topic named constructor — its summary read "function Object() { [native code] }2 → constructor"', { timeout: 60_000 }, async (t) => {
  const node = await startTestBroker();
  const client = new WalrusClient({ nodes: [node.address] });
  const state = await mkdtemp(join(tmpdir(), 'walrus-proto-dlq-'));
  t.after(async () => { await client.close(); await node.close(); await rm(state, { recursive: true, force: true }); });
  const letter = (entry: string) => buildDeadLetter({
    entry, error: { name: 'Error', message: 'boom', code: 'PROCESSOR_ERROR', retriable: true }, processor: 'p', attempts: 1,
    firstFailureAt: 1_000, lastFailureAt: 2_000, sourceTopic: 'constructor', recordId: 'rid',
  });
  for (const topic of ['constructor', 'in.dlq']) await client.register(topic);
  await client.putMany('in.dlq', [letter('one'), letter('two')]);
  const r = await runCli(['dlq', 'replay', 'in.dlq', '--nodes', node.address, '--state-dir', state]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^replayed 2 record\(s\) \(2 → constructor\)/);
  const back: string[] = [];
  for (let got = await client.getMany('constructor', 10); got.length > 0; got = await client.getMany('constructor', 10)) back.push(...got.map(String));
  assert.deepEqual(back, ['one', 'two']);
});
