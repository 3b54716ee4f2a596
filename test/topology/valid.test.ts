import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { loadTopology, loadTopologyText, type Topology } from '../../src/topology/index.js';

const valid = fileURLToPath(new URL('../fixtures/topologies/valid/', import.meta.url));

/** Every default of the language, spelt out: if one changes, this test says so. */
function defaults(dir: string): Omit<Topology, 'app' | 'sources' | 'processors' | 'sinks'> {
  return {
    file: join(dir, 'topology.yaml'),
    dir,
    stateDir: join(dir, '.walrus-stream'),
    workers: 'auto',
    cluster: {
      nodes: [],
      embedded: { dataDir: join(dir, '.walrus'), host: '127.0.0.1', port: 0, fsync: 'interval', fsyncInterval: 100, compat: 'default', segmentEntries: 1_000_000, segmentBytes: 67_108_864, persistCursors: true, insecure: false },
      pool: { min: 1, max: 4, acquireTimeout: 5_000, idleTimeout: 30_000 },
      retry: { retries: 3, initialDelay: 100, maxDelay: 5_000, multiplier: 2 },
      breaker: { failureThreshold: 5, openDuration: 30_000, halfOpenAttempts: 3 },
      balancer: 'round-robin',
      requestTimeout: 10_000,
      connectTimeout: 5_000,
    },
    stores: {},
    observability: { logLevel: 'info', http: false, redactHeaders: ['authorization', 'cookie', 'set-cookie', 'x-api-key', 'proxy-authorization'] },
    workerPool: { maxHeap: 512 * 1024 * 1024, timeoutGrace: 5_000, recycleAfterTasks: 0, recycleAboveHeap: 0, maxConsecutiveCrashes: 20, loadTimeout: 60_000, tasksPerWorker: 4 },
    journal: { fsync: 'always' },
  };
}

const DEFAULT_POLL = { batchSize: 500, maxBytes: 61_440, minInterval: 1, maxInterval: 100 };
const DEFAULT_PROCESSOR = { concurrency: 8, ordering: 'unordered', batchSize: 256, timeout: 30_000, maxOutputs: 100_000, maxOutputBytes: 64 * 1024 * 1024, retry: { attempts: 3, backoff: 'exponential', initialDelay: 100, maxDelay: 5_000 }, config: {}, stores: [] as string[], rekey: false, fuse: true } as const;

test('minimal: a source and a processor, every default applied', async () => {
  const dir = join(valid, 'minimal');
  const { topology, warnings } = await loadTopology(join(dir, 'topology.yaml'), { env: {}, loadModules: true });
  const expected: Topology = {
    ...defaults(dir),
    app: 'minimal',
    sources: { orders: { name: 'orders', topic: 'orders', partitions: 1, format: 'envelope', serializer: 'json', poll: DEFAULT_POLL, rateLimit: 0, dedupe: { window: 0 } } },
    processors: {
      echo: {
        name: 'echo', module: './echo.js', modulePath: join(dir, 'echo.js'),
        input: ['orders'], inputs: [{ kind: 'source', name: 'orders', topic: 'orders' }],
        outputs: ['default'], deadLetter: 'orders.dlq', ...DEFAULT_PROCESSOR, retry: { ...DEFAULT_PROCESSOR.retry }, config: {},
      },
    },
    sinks: {},
  };
  assert.deepEqual(topology, expected);
  assert.deepEqual(warnings, []);
});

test('full: every section, interpolation, branching, units and resolved references', async () => {
  const dir = join(valid, 'full');
  const env = { SECOND_NODE: 'walrus-2.internal:9091', WORKERS: '', PRICE: 'never-used' };
  const { topology, warnings } = await loadTopology(join(dir, 'topology.yaml'), { env, loadModules: true });
  const base = defaults(dir);
  const expected: Topology = {
    ...base,
    app: 'orders',
    stateDir: join(dir, '.state'),
    workers: 3, // ${WORKERS:-3} with WORKERS set but empty takes the default, as a number
    cluster: {
      ...base.cluster,
      nodes: ['127.0.0.1:9091', 'walrus-2.internal:9091'],
      pool: { min: 2, max: 8, acquireTimeout: 2_000, idleTimeout: 60_000 },
      retry: { retries: 5, initialDelay: 50, maxDelay: 2_000, multiplier: 1.5 },
      breaker: { failureThreshold: 3, openDuration: 10_000, halfOpenAttempts: 1 },
      balancer: 'least-outstanding',
      requestTimeout: 90_000,
      connectTimeout: 750,
    },
    sources: {
      orders: { name: 'orders', topic: 'orders', partitions: 1, format: 'envelope', serializer: 'json', poll: { batchSize: 200, maxBytes: 32_768, minInterval: 2, maxInterval: 250 }, rateLimit: 1_000, dedupe: { window: 0 } },
      legacy: { name: 'legacy', topic: 'legacy.orders', partitions: 1, format: 'text', serializer: 'string', poll: DEFAULT_POLL, rateLimit: 0, dedupe: { window: 0 } },
    },
    processors: {
      parse: {
        name: 'parse', module: './processors/parse.ts', modulePath: join(dir, 'processors/parse.ts'),
        input: ['orders', 'legacy'],
        inputs: [{ kind: 'source', name: 'orders', topic: 'orders' }, { kind: 'source', name: 'legacy', topic: 'legacy.orders' }],
        outputs: ['valid', 'invalid'], concurrency: 16, ordering: 'key', batchSize: 32, timeout: 5_000, maxOutputs: 100_000, maxOutputBytes: 64 * 1024 * 1024,
        retry: { attempts: 5, backoff: 'linear', initialDelay: 10, maxDelay: 1_000 },
        deadLetter: 'orders.dlq', config: { currency: 'EUR', limits: [1, 2, 3] }, stores: [], rekey: false, fuse: true,
      },
      enrich: {
        name: 'enrich', module: './processors/enrich.js', modulePath: join(dir, 'processors/enrich.js'),
        input: ['parse.valid'], inputs: [{ kind: 'processor', name: 'parse', output: 'valid' }],
        outputs: ['default'], ...DEFAULT_PROCESSOR, retry: { ...DEFAULT_PROCESSOR.retry },
        deadLetter: 'orders.dlq', // follows the inputs up to the first source
        config: { price: '${PRICE}' }, // $${...} is an escape, never a lookup
      },
      audit: {
        name: 'audit', module: './processors/enrich.js', modulePath: join(dir, 'processors/enrich.js'),
        input: ['parse.invalid', 'enrich.default'],
        inputs: [{ kind: 'processor', name: 'parse', output: 'invalid' }, { kind: 'processor', name: 'enrich', output: 'default' }],
        outputs: ['default'], ...DEFAULT_PROCESSOR, retry: { ...DEFAULT_PROCESSOR.retry }, config: {},
        deadLetter: 'audit.failed',
      },
    },
    sinks: {
      accepted: {
        name: 'accepted', topic: 'orders.accepted', partitions: 1, input: { processor: 'enrich', output: 'default' },
        format: 'envelope', serializer: 'json', compression: { codec: 'gzip', threshold: 2_048 }, batch: { maxRecords: 100, maxBytes: 65_536, linger: 10 },
      },
      'audit-log': {
        name: 'audit-log', topic: 'audit', partitions: 1, input: { processor: 'audit', output: 'default' },
        format: 'text', serializer: 'string', compression: { codec: 'none', threshold: 1_024 }, batch: { maxRecords: 2_000, maxBytes: 61_440, linger: 5 },
      },
    },
    observability: { logLevel: 'debug', http: '127.0.0.1:9464', redactHeaders: ['authorization', 'cookie', 'set-cookie', 'x-api-key', 'proxy-authorization'] },
  };
  assert.deepEqual(topology, expected);
  assert.deepEqual(warnings, []);
});

test('warnings: an unread source, an output that leads nowhere and an unreachable processor do not fail', async () => {
  const file = join(valid, 'warnings', 'topology.yaml');
  const { topology, warnings } = await loadTopology(file, { env: {}, loadModules: true });
  assert.deepEqual(Object.keys(topology.processors), ['route', 'orphan']);
  assert.equal(topology.processors.orphan!.deadLetter, 'orphan.dlq');
  assert.deepEqual(warnings.map((w) => `${w.line}:${w.col}: ${w.severity}: ${w.message}`), [
    '6:3: warning: sources.unused: no processor reads this source',
    '12:21: warning: processors.route.outputs: output "dropped" leads nowhere — no processor or sink reads "route.dropped", so records emitted to it are dropped',
    '13:3: warning: processors.orphan: unreachable — its input is empty, so it never runs',
  ]);
  assert.ok(warnings.every((w) => w.file === file));
});

test('x- keys hold YAML anchors that processors merge in; errors in a merged value point where it is written', async () => {
  const dir = join(valid, 'minimal');
  const text = [
    'app: anchors',
    'x-defaults: &defaults',
    '  module: ./echo.js',
    '  concurrency: 2',
    '  retry: &retry { attempts: 1 }',
    'sources:',
    '  orders: { topic: orders }',
    'processors:',
    '  a:',
    '    <<: *defaults',
    '    input: orders',
    '  b:',
    '    <<: *defaults',
    '    input: a',
    '    concurrency: 4',
    '    retry: *retry',
  ].join('\n');
  const { topology } = await loadTopologyText(text, join(dir, 'topology.yaml'), { env: {} });
  assert.equal(topology.processors.a!.concurrency, 2);
  assert.equal(topology.processors.b!.concurrency, 4, 'an own key wins over a merged one');
  assert.equal(topology.processors.b!.retry.attempts, 1);
  assert.equal(topology.processors.b!.modulePath, join(dir, 'echo.js'));

  const broken = text.replace('concurrency: 2', 'concurrency: 0').replace('attempts: 1', 'attempts: x');
  const error = await loadTopologyText(broken, join(dir, 'topology.yaml'), { env: {} }).then(() => undefined, (e: unknown) => e);
  const diagnostics = (error as { context: { diagnostics: Array<{ line: number; col: number; message: string }> } }).context.diagnostics;
  assert.deepEqual(diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`), [
    '4:16: processors.a.concurrency: must be at least 1, got 0',
    '5:29: processors.a.retry.attempts: expected a number, got "x"',
    '5:29: processors.b.retry.attempts: expected a number, got "x"',
  ]);
});

test('journal.fsync "batch" (the old spelling) loads as "always", with a warning at its position', async () => {
  const dir = join(valid, 'minimal');
  const text = [
    'app: old-words',
    'sources:',
    '  orders: { topic: orders }',
    'processors:',
    '  a: { module: ./echo.js, input: orders }',
    'journal:',
    '  fsync: batch',
  ].join('\n');
  const { topology, warnings } = await loadTopologyText(text, join(dir, 'topology.yaml'), { env: {} });
  assert.equal(topology.journal.fsync, 'always');
  assert.deepEqual(warnings.map((w) => `${w.line}:${w.col}: ${w.severity}`), ['7:10: warning']);
  assert.match(warnings[0]!.message, /journal\.fsync: "batch" is the old spelling of "always".*docs\/migration\.md/);
});

test('a file with bare CR line endings (classic Mac) loads as with LF or CRLF, and its errors point at the right line', async () => {
  const dir = join(valid, 'minimal');
  const lines = ['app: shop', 'sources:', '  orders:', '    topic: orders', 'processors:', '  echo:', '    module: ./echo.js', '    input: orders', '    concurrency: 3'];
  for (const eol of ['\r', '\r\n', '\n']) {
    const { topology } = await loadTopologyText(lines.join(eol), join(dir, 'topology.yaml'), { env: {} });
    assert.equal(topology.processors.echo!.concurrency, 3, JSON.stringify(eol));
  }
  const broken = lines.join('\r').replace('input: orders', 'input: ordrs');
  const error = await loadTopologyText(broken, join(dir, 'topology.yaml'), { env: {} }).then(() => undefined, (e: unknown) => e);
  const diagnostics = (error as { context: { diagnostics: Array<{ line: number; col: number; message: string }> } }).context.diagnostics;
  assert.deepEqual(diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`), [
    '8:12: processors.echo.input: unknown source or processor "ordrs" — did you mean "orders"?',
  ]);
});
