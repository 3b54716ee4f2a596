import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { WorkerPool } from '../../src/runtime/pool/worker-pool.js';
import { WalrusError } from '../../src/errors/index.js';
import { decodeEntry } from '../../src/codec/index.js';
import { deriveRecordId } from '../../src/runtime/wire/record-ids.js';
import type { ProcessorSpecWire, WireRecord } from '../../src/runtime/wire/messages.js';
import { oneProcessorGroup, outcomes, tasks, type Outcome } from './one-processor.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/processors/${name}`, import.meta.url));
const spec = (name: string, file: string, extra: Partial<ProcessorSpecWire> = {}): ProcessorSpecWire => ({
  name, module: fixture(file), config: {}, outputs: ['default'], timeoutMs: 0, logLevel: 'silent', ...extra,
});
const rec = (id: string, value: unknown, extra: Partial<WireRecord> = {}): WireRecord => ({
  id, value, headers: {}, timestamp: 1, source: 'in', attempt: 1, ...extra,
});

const pool = new WorkerPool({ workers: 2 });
const run = async (s: ProcessorSpecWire, records: WireRecord[]): Promise<Outcome[]> => outcomes(await pool.process(oneProcessorGroup(s), tasks(records)), records.length);
after(() => pool.close());

test('a TypeScript processor runs a batch in a worker thread and returns one result per record', async () => {
  const results = await run(spec('double', 'double.ts'), [rec('a', { n: 1 }), rec('b', { n: 2, drop: true }), rec('c', { n: 21 }, { key: 'k' })]);
  assert.equal(results.length, 3);
  assert.deepEqual(results.map((r) => (r.ok ? r.outputs.map((o) => o.value) : r.error.code)), [[{ n: 2 }], [], [{ n: 42 }]]);
  // Headers equal to the input's are left out of the result (the coordinator fills them in).
  assert.equal(results[2].ok && 'headers' in results[2].outputs[0], false);
});

test('a JavaScript processor module loads too', async () => {
  const [result] = await run(spec('echo', 'echo.js'), [rec('a', 'hello')]);
  assert.deepEqual(result.ok && result.outputs, [{ output: 'default', value: 'hello', key: undefined }]);
});

test('one failing record never fails its batch neighbours; NonRetriableError keeps its code', async () => {
  const results = await run(spec('flaky', 'flaky.ts'), [
    rec('1', { n: 1 }), rec('2', { n: 2, failTimes: 1 }), rec('3', { n: 3, fatal: true }), rec('4', { n: 4, failTimes: 1 }, { attempt: 2 }),
  ]);
  assert.equal(results[0].ok, true);
  assert.equal(!results[1].ok && results[1].error.message, 'transient failure 1');
  assert.equal(!results[1].ok && results[1].error.retriable, true);
  assert.equal(!results[2].ok && results[2].error.code, 'NON_RETRIABLE');
  assert.equal(!results[2].ok && results[2].error.retriable, false);
  assert.deepEqual(results[3].ok && results[3].outputs[0].value, { n: 4, attempt: 2 });
});

test('outputs read only by sinks are packed into sink entries in the worker; source bytes are deserialized there', async () => {
  const sink = { name: 'out', topic: 'out', format: 'envelope' as const, serializer: 'json' as const, compression: 'none' as const, compressionThreshold: 1024, partitions: 1 };
  const s = oneProcessorGroup(spec('double', 'double.ts'), { default: [sink] });
  const input = tasks([
    rec('a', Buffer.from('{"n":4}'), { encoding: 'json', key: 'k1' }),
    rec('b', Buffer.from('{"n":'), { encoding: 'json' }),
    rec('c', Buffer.from('{"n":5}'), { encoding: 'json' }),
  ]);
  const batch = await pool.process(s, input);
  const { packed } = batch;
  const results = outcomes(batch, input.length);
  assert.deepEqual(results.map((r) => r.ok && r.sunk), [1, false, 1]);
  assert.equal(!results[1].ok && results[1].error.code, 'DESERIALIZATION_ERROR');
  assert.equal(!results[1].ok && results[1].error.retriable, false);
  assert.equal(packed.length, 1);
  assert.deepEqual(packed[0].records, [0, 2]);
  const decoded = packed[0].entries.flatMap((e) => decodeEntry(e));
  assert.deepEqual(decoded.map((r) => [r.key, Buffer.from(r.value).toString()]), [['k1', '{"n":8}'], [undefined, '{"n":10}']]);
  assert.equal(decoded[0].id, deriveRecordId('a', 'double', 0));
});

test('named outputs, merged headers and processor metrics collected over the control channel', async () => {
  const s = spec('router', 'router.ts', { outputs: ['even', 'odd'] });
  const results = await run(s, [rec('1', 1, { headers: { trace: 't' } }), rec('2', 2), rec('3', 3)]);
  assert.deepEqual(results.map((r) => r.ok && r.outputs.map((o) => `${o.output}:${o.value}:${o.headers?.routed}`)),
    [['odd:1:odd'], ['even:2:even'], ['odd:3:odd']]);
  assert.deepEqual(results[0].ok && results[0].outputs[0].headers, { trace: 't', routed: 'odd' });
  const snapshots = await pool.metrics();
  const routed = snapshots.flatMap((s) => s.counters).filter((c) => c.name === 'routed');
  assert.equal(routed.reduce((a, c) => a + c.value, 0), 3);
  assert.deepEqual(new Set(routed.map((c) => `${c.labels.processor}/${c.labels.target}`)), new Set(['router/odd', 'router/even']));
});

test('health answers from every worker; the per-record timeout fires the AbortSignal', async () => {
  await pool.ready();
  const health = await pool.health();
  assert.equal(health.length, 2);
  const [result] = await run(spec('slow', 'slow.ts', { timeoutMs: 50 }), [rec('s', { ms: 5_000 })]);
  assert.equal(!result.ok && result.error.code, 'PROCESSOR_TIMEOUT');
});

test('abortAll cancels records in flight cooperatively, and from then on no processor call starts: a later batch fails SHUTTING_DOWN without running', async () => {
  // Its own pool: past abortAll a pool runs nothing more (it is shutdown's abort point).
  const own = new WorkerPool({ workers: 1 });
  try {
    const go = async (s: ProcessorSpecWire, records: WireRecord[]) => outcomes(await own.process(oneProcessorGroup(s), tasks(records)), records.length);
    await own.ready();
    const running = go(spec('slow', 'slow.ts'), [rec('s1', { ms: 10_000 }), rec('s2', { ms: 10_000 })]);
    // Once both are inside process() (abortAll before that would already keep them from starting).
    for (let i = 0; i < 3_000 && !(await own.health()).some((w) => w.inFlight >= 2); i++) await new Promise((r) => setTimeout(r, 10));
    const aborted = await own.abortAll('shutdown');
    const results = await running;
    assert.equal(aborted, 2);
    assert.deepEqual(results.map((r) => !r.ok && r.error.code), ['SHUTTING_DOWN', 'SHUTTING_DOWN']);
    // Quick records that would succeed: they are not run (their 50 ms never passes, no output).
    const started = performance.now();
    const later = await go(spec('slow', 'slow.ts'), [rec('s3', { ms: 50 }), rec('s4', { ms: 50 })]);
    assert.deepEqual(later.map((r) => (r.ok ? r.outputs : r.error.code)), ['SHUTTING_DOWN', 'SHUTTING_DOWN']);
    assert.ok(performance.now() - started < 5_000);
  } finally {
    await own.close();
  }
});

for (const [file, pattern] of [
  ['not-a-processor.ts', /must default-export defineProcessor/],
  ['throws-at-import.ts', /database URL missing/],
  ['syntax-error.mjs', /syntax-error\.mjs/],
  ['does-not-exist.ts', /does-not-exist\.ts/],
] as const) {
  test(`a module that cannot load fails with PROCESSOR_LOAD_FAILED naming the file (${file})`, async () => {
    await assert.rejects(pool.load(spec('bad', file)), (error: unknown) => {
      assert.ok(error instanceof WalrusError);
      assert.equal(error.code, 'PROCESSOR_LOAD_FAILED');
      assert.match(error.message, new RegExp(file.replace('.', '\\.')));
      assert.match(error.message, pattern);
      return true;
    });
  });
}

test('concurrent batches spread over every worker thread', async () => {
  await pool.ready();
  const s = spec('thread-id', 'thread-id.ts', { config: { ms: 5 } });
  const batches = await Promise.all(Array.from({ length: 6 }, () => run(s, [rec('a', 1), rec('b', 2)])));
  const threads = new Set(batches.flatMap((results) => results.map((r) => r.ok && r.outputs[0].value)));
  assert.equal(threads.size, 2, `batches ran on threads ${[...threads].join(', ')}`);
});

test('loadEverywhere loads and inits a processor in every worker thread', async () => {
  await pool.loadEverywhere(spec('echo-everywhere', 'echo.js'));
  const health = await pool.health();
  assert.equal(health.length, 2);
  for (const h of health) assert.ok(h.loaded.includes('echo-everywhere'), `thread ${h.threadId}: ${h.loaded.join(', ')}`);
});

test('an output that cannot cross the thread boundary fails only its own record, non-retriable', async () => {
  const [ok, bad] = await run(spec('bad-output', 'bad-output.ts'), [rec('a', { n: 1 }), rec('b', { n: 2, fn: true })]);
  assert.deepEqual(ok.ok && ok.outputs[0].value, { n: 1 });
  assert.equal(!bad.ok && bad.error.code, 'SERIALIZATION_ERROR');
  assert.equal(!bad.ok && bad.error.retriable, false);
});

test('a thread that cannot start fails ready() at once with its own error, not after the timeout with none', async () => {
  // A heap too small to boot the thread: it dies before it can say hello, as a broken install would.
  const broken = new WorkerPool({ workers: 1, resourceLimits: { maxOldGenerationSizeMb: 2, maxYoungGenerationSizeMb: 1 } });
  try {
    const started = performance.now();
    await assert.rejects(broken.ready(60_000), (error: unknown) => {
      assert.ok(error instanceof WalrusError);
      assert.equal(error.code, 'WORKER_CRASHED');
      assert.match(error.message, /a worker thread failed to start: .*memory limit/);
      return true;
    });
    assert.ok(performance.now() - started < 30_000, 'ready() waited for its timeout');
  } finally {
    await broken.close();
  }
});
