/**
 * The user projects the packing test installs walrus-stream into: an ES
 * module project and a CommonJS one (`npm init -y`'s default). Between them
 * their processors use all six module extensions, and both entries a
 * processor may import (`walrus-stream` and the light `walrus-stream/processor`),
 * and each project checks the library with a script and its types with a
 * strict tsconfig (the CommonJS one also with `moduleResolution: node`).
 */

export type ProjectKind = 'esm' | 'cjs';

/** Files (path relative to the project → text) of one test project; `typeRoots` holds @types/node. */
export function projectFiles(kind: ProjectKind, typeRoots: string): Record<string, string> {
  const esm = kind === 'esm';
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name: `walrus-${kind}-user`, version: '1.0.0', private: true, ...(esm ? { type: 'module' } : {}) }, null, 2),
    'input.txt': 'alpha\nbravo\ncharlie\ndelta\necho\n',
    'topology.yaml': topology(esm),
    // A TypeScript processor: ESM in one project, compiled to CommonJS by tsx in the other.
    'processors/upper.ts': `import { defineProcessor } from 'walrus-stream';\n` +
      `export default defineProcessor<string, string>({ process: (record) => record.value.toUpperCase() });\n`,
    // A JavaScript processor in the project's own module system.
    'processors/tag.js': esm
      ? `import { defineProcessor } from 'walrus-stream';\nexport default defineProcessor({ process: (record) => record.value + '!' });\n`
      : `const { defineProcessor } = require('walrus-stream');\nmodule.exports = defineProcessor({ process: (record) => record.value + '!' });\n`,
    // The other module system, TypeScript: .cts in the ESM project, .mts in the CommonJS one.
    [`processors/check.${esm ? 'cts' : 'mts'}`]: `import { defineProcessor, NonRetriableError } from 'walrus-stream/processor';\n` +
      `export default defineProcessor<string, string>({\n` +
      `  process(record) {\n` +
      `    if (!/^[A-Z]+!$/.test(record.value)) throw new NonRetriableError('upper and tag did not run: ' + record.value);\n` +
      `    return record.value;\n` +
      `  },\n});\n`,
    // And the other module system, JavaScript.
    [`processors/pass.${esm ? 'cjs' : 'mjs'}`]: esm
      ? `const { defineProcessor } = require('walrus-stream/processor');\nmodule.exports = defineProcessor({ process: (record) => record.value });\n`
      : `import { defineProcessor } from 'walrus-stream/processor';\nexport default defineProcessor({ process: (record) => record.value });\n`,
    [`check.${esm ? 'mjs' : 'cjs'}`]: libraryCheck(esm),
    'types/consumer.ts': CONSUMER_TYPES,
    'types/tsconfig.json': JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true,
        noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true,
        // The declarations are the same files in both projects: checking them once (ESM) is enough.
        skipLibCheck: !esm, noEmit: true, types: ['node'], typeRoots: [typeRoots],
      },
      files: ['consumer.ts'],
    }, null, 2),
  };
  // A project still on node10 resolution (no `exports`): the subpaths' types come from `typesVersions`.
  if (!esm) Object.assign(files, NODE10_FILES(typeRoots));
  return files;
}

/** Imports every public subpath under `moduleResolution: node`, and uses the types so an `any` would show. */
const NODE10_FILES = (typeRoots: string): Record<string, string> => ({
  'types-node10/consumer.ts': `import { WalrusClient, defineProcessor, type Outputs } from 'walrus-stream';
import * as sdk from 'walrus-stream/processor';
import pkg from 'walrus-stream/package.json';
import schema from 'walrus-stream/schema/topology.schema.json';

export const light: sdk.Processor<string, number> = sdk.defineProcessor<string, number>({ process: (record) => record.value.length });
export const routed = defineProcessor<string, Outputs<{ short: string; long: number }>>({
  process(record, ctx) {
    if (record.value.length < 5) ctx.emit('short', record.value);
    else ctx.emit('long', record.value.length);
    // @ts-expect-error a string to the number-typed output: the declarations were found, not an any
    ctx.emit('long', record.value);
  },
});
export const version: string = pkg.version;
export const described: unknown = schema;
export type Client = WalrusClient;
`,
  'types-node10/tsconfig.json': JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'commonjs', moduleResolution: 'node', strict: true, esModuleInterop: true, resolveJsonModule: true,
      skipLibCheck: true, noEmit: true, types: ['node'], typeRoots: [typeRoots],
    },
    files: ['consumer.ts'],
  }, null, 2),
});

function topology(esm: boolean): string {
  return `app: ${esm ? 'esm' : 'cjs'}-user
stateDir: \${WALRUS_STATE_DIR:-.walrus-stream}
workers: 1
sources:
  words: { topic: words, format: text, serializer: string }
processors:
  upper: { module: ./processors/upper.ts, input: words, deadLetter: words.dlq }
  tag: { module: ./processors/tag.js, input: upper, deadLetter: words.dlq }
  check: { module: ./processors/check.${esm ? 'cts' : 'mts'}, input: tag, deadLetter: words.dlq }
  pass: { module: ./processors/pass.${esm ? 'cjs' : 'mjs'}, input: check, deadLetter: words.dlq }
sinks:
  out: { topic: words.out, input: pass, format: text, serializer: string }
observability:
  logLevel: warn
`;
}

/** Imports the library API and does a round trip against an embedded node. */
function libraryCheck(esm: boolean): string {
  const load = esm
    ? `import * as ws from 'walrus-stream';\nimport * as sdk from 'walrus-stream/processor';\nimport { mkdtemp, rm } from 'node:fs/promises';\nimport { tmpdir } from 'node:os';\nimport { join } from 'node:path';\n`
    : `const ws = require('walrus-stream');\nconst sdk = require('walrus-stream/processor');\nconst { mkdtemp, rm } = require('node:fs/promises');\nconst { tmpdir } = require('node:os');\nconst { join } = require('node:path');\n`;
  const body = `
const api = ['WalrusClient', 'Producer', 'Consumer', 'defineProcessor', 'loadTopology', 'startPipeline', 'startBroker',
  'MetricsHub', 'WalrusError', 'NonRetriableError', 'count', 'reduce', 'aggregate', 'tumbling', 'hopping', 'windowedAggregate', 'fromField'];
const missing = api.filter((name) => typeof ws[name] !== 'function');
if (missing.length > 0) throw new Error('missing from the package: ' + missing.join(', '));
const sdkApi = ['defineProcessor', 'NonRetriableError', 'WalrusError', 'count', 'reduce', 'aggregate', 'tumbling', 'hopping', 'windowedAggregate', 'fromField', 'lateRecordError'];
const sdkMissing = sdkApi.filter((name) => typeof sdk[name] !== 'function');
if (sdkMissing.length > 0) throw new Error('missing from walrus-stream/processor: ' + sdkMissing.join(', '));
if (typeof sdk.WalrusClient !== 'undefined') throw new Error('walrus-stream/processor should not carry the client');
const dataDir = await mkdtemp(join(tmpdir(), 'walrus-pack-node-'));
const broker = await ws.startBroker({ host: '127.0.0.1', port: 0, dataDir, fsync: 'never' });
const client = new ws.WalrusClient({ nodes: [broker.address] });
try {
  await client.register('greet');
  await client.put('greet', 'hello, walrus');
  const got = await client.get('greet');
  if (got === undefined || got.toString('utf8') !== 'hello, walrus') throw new Error('put/get round trip gave ' + String(got));
  const producer = new ws.Producer(client, { topic: 'orders' });
  await producer.send({ id: 7, note: 'trailing space ' });
  await producer.close();
  const consumer = new ws.Consumer(client, { topic: 'orders' });
  const next = await consumer.next();
  await consumer.close();
  if (next.done || next.value.value.id !== 7 || next.value.value.note !== 'trailing space ') throw new Error('producer/consumer round trip gave ' + JSON.stringify(next));
  const metrics = await new ws.MetricsHub().metrics();
  if (!metrics.includes('walrus_stream_')) throw new Error('MetricsHub exposition has no walrus_stream_ series');
  const { topology } = await ws.loadTopology('topology.yaml');
  if (Object.keys(topology.processors).length !== 4) throw new Error('loadTopology read ' + Object.keys(topology.processors).length + ' processors');
  // docs/pipeline.md's "Using it from code": a pipeline with its worker pool, from this kind of module.
  await client.register('words');
  await client.putMany('words', ['one', 'two', 'three']);
  const pipeline = await ws.startPipeline({ ...topology, stateDir: join(dataDir, 'state') }, { nodes: [broker.address], untilIdle: true, workers: 1 });
  const summary = await pipeline.done;
  if (summary.processors.pass?.processed !== 3) throw new Error('startPipeline processed ' + JSON.stringify(summary.processors));
  console.log('library ok');
} finally {
  await client.close();
  await broker.close();
  await rm(dataDir, { recursive: true, force: true });
}
`;
  return esm ? load + body : `${load}(async () => {${body}})().catch((error) => { console.error(error); process.exitCode = 1; });\n`;
}

/** Uses the public API the way a TypeScript user would, under the strictest common flags. */
const CONSUMER_TYPES = `import {
  WalrusClient, Producer, Consumer, WalrusError, NonRetriableError, MetricsHub, defineProcessor, loadTopology, startPipeline, startBroker,
  count, tumbling, windowedAggregate, fromField, type ProcessorContext, type WalrusRecord, type BrokerOptions, type WalrusClientOptions,
} from 'walrus-stream';
import * as sdk from 'walrus-stream/processor';

interface Order { id: string; amount: number; at: number }

// The light entry has the same types: a processor written against it is the same processor.
export const light: sdk.Processor<Order, Order> = sdk.defineProcessor<Order, Order>({
  process(record, ctx: sdk.ProcessorContext) {
    if (record.value.amount < 0) throw new sdk.NonRetriableError('negative amount');
    const step: sdk.KeyedWindowStep<number> = sdk.windowedAggregate(ctx.state('totals'), record, {
      windows: sdk.tumbling(60_000), eventTime: sdk.fromField('at'), init: () => 0, aggregate: (sum: number, order) => sum + order.amount,
    });
    return step.late ? [] : record.value;
  },
});

export const processor = defineProcessor<Order, Order>({
  process(record, ctx: ProcessorContext) {
    if (record.value.amount < 0) throw new NonRetriableError('negative amount');
    ctx.logger.info({ id: record.value.id }, 'seen');
    return record.value;
  },
});

// A typed config block (README's example): ctx.config.tiers is a record, not unknown.
export const typedConfig = defineProcessor<Order, Order & { tier: string }, { tiers: Record<string, string>; limit: number }>({
  init(ctx) { if (ctx.config.limit < 0) throw new Error('limit must be positive'); },
  process(record, ctx) {
    return { ...record.value, tier: record.value.amount > ctx.config.limit ? 'big' : ctx.config.tiers[record.value.id] ?? 'standard' };
  },
});

export async function main(): Promise<void> {
  const options: BrokerOptions = { port: 0 };
  const broker = await startBroker(options);
  const clientOptions: WalrusClientOptions = { nodes: [broker.address] };
  const client = new WalrusClient(clientOptions);
  const producer = new Producer<Order>(client, { topic: 'orders' });
  await producer.send({ id: 'o-1', amount: 3, at: Date.now() }, { key: 'c-1' });
  await producer.close();
  const consumer = new Consumer<Order>(client, { topic: 'orders' });
  for await (const record of consumer) {
    const seen: WalrusRecord<Order> = record;
    if (seen.value.amount > 0) break;
  }
  await consumer.close();
  const text: string = await new MetricsHub().metrics();
  void text;
  void [count, tumbling, windowedAggregate, fromField];
  const { topology } = await loadTopology('topology.yaml');
  const pipeline = await startPipeline(topology, { untilIdle: true });
  const summary = await pipeline.done;
  console.log(summary.elapsedMs);
  try {
    await client.close();
  } catch (error) {
    if (error instanceof WalrusError) console.error(error.code, error.retriable);
  }
  await broker.close();
}
`;
