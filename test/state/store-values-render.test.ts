import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { DeadLetterRing, MetricsHub, StatsSampler, createDashboard, startObservabilityServer } from '../../src/observability/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { KeyValueStore, inspectStore, storeDir } from '../../src/state/index.js';
import { tempDir } from './helpers.js';

/*
 * Every value a store holds (docs/state.md, "What values a store holds") is
 * shown by `walrus-stream store` (text and --json) and by the dashboard's
 * store browser, faithfully and bounded. Before: JSON.stringify threw on a
 * BigInt ("Do not know how to serialize a BigInt": the CLI printed a stack
 * trace, exit 1), a Map or Set was {}, NaN null, -0 0, undefined dropped and
 * a Buffer one number per byte.
 */

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'walrus-stream.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error as { code?: number }).code ?? 1 : 0, stdout, stderr });
    });
  });
}

function get(port: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString('utf8'); });
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    }).on('error', reject).end();
  });
}

const big = 2n ** 200n + 7n;
const huge = 10n ** 5000n + 3n; // 5,001 digits: shown cut
const VALUES: Record<string, unknown> = {
  bigint: 12n,
  bigint64: 2n ** 63n - 1n,
  bigint200: -big,
  bigintHuge: huge,
  buffer: Buffer.from('hello'),
  bufferHuge: Buffer.alloc(10_000, 0xab),
  date: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
  dollar: { $bigint: 'not a tag' },
  f64: new Float64Array([1.5, -2]),
  map: new Map<unknown, unknown>([['a', 1], [2, new Set(['x'])]]),
  nan: Number.NaN,
  negInf: Number.NEGATIVE_INFINITY,
  negZero: -0,
  plain: { n: 3, s: 'x', list: [1, 'two'] },
  posInf: Number.POSITIVE_INFINITY,
  set: new Set([1, 'b']),
  u8: new Uint8Array([1, 2, 3]),
  undef: { a: undefined, b: [undefined] },
  view: new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2),
  buf: new Uint8Array([255, 0]).buffer,
  'esc\u001b[2J': 'a\u001b[2Jb\tc\nd',
};

/** What the JSON output must say for each key. */
const TAGGED: Record<string, unknown> = {
  bigint: { $bigint: '12' },
  bigint64: { $bigint: '9223372036854775807' },
  bigint200: { $bigint: (-big).toString() },
  bigintHuge: { $bigint: huge.toString().slice(0, 4096), digits: 5001, truncated: true },
  buffer: { $bytes: Buffer.from('hello').toString('base64'), type: 'Buffer', length: 5 },
  bufferHuge: { $bytes: Buffer.alloc(4096, 0xab).toString('base64'), type: 'Buffer', length: 10_000, truncated: true },
  date: { $date: '2024-01-02T03:04:05.000Z' },
  dollar: { $object: { $bigint: 'not a tag' } },
  f64: { $bytes: Buffer.from(new Float64Array([1.5, -2]).buffer).toString('base64'), type: 'Float64Array', length: 16 },
  map: { $map: [['a', 1], [2, { $set: ['x'] }]] },
  nan: { $number: 'NaN' },
  negInf: { $number: '-Infinity' },
  negZero: { $number: '-0' },
  plain: { n: 3, s: 'x', list: [1, 'two'] },
  posInf: { $number: 'Infinity' },
  set: { $set: [1, 'b'] },
  u8: { $bytes: 'AQID', type: 'Uint8Array', length: 3 },
  undef: { a: { $undefined: true }, b: [{ $undefined: true }] },
  view: { $bytes: Buffer.from([8, 7]).toString('base64'), type: 'DataView', length: 2 },
  buf: { $bytes: Buffer.from([255, 0]).toString('base64'), type: 'ArrayBuffer', length: 2 },
  'esc\u001b[2J': 'a\u001b[2Jb\tc\nd',
};

async function storeWithEveryValue(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const { dir, cleanup } = await tempDir('ws-store-values-');
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir: storeDir(dir, 'app', 'kinds'), name: 'kinds' });
  const cs = store.changeSet();
  for (const [k, v] of Object.entries(VALUES)) cs.put(k, v);
  await store.commit(cs);
  // Read back as stored (the store's own promise), so the test checks the rendering, not the codec.
  for (const [k, v] of Object.entries(VALUES)) assert.deepEqual(await store.get(k), v, k);
  await store.close();
  return dir;
}

test('walrus-stream store --json shows every storable value in the tagged form; text shows it as inspect does, bounded', { timeout: 30_000 }, async (t) => {
  const stateDir = await storeWithEveryValue(t);
  const json = await cli(['store', 'kinds', '--app', 'app', '--state-dir', stateDir, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const entries = (JSON.parse(json.stdout) as { entries: Array<{ key: string; value: unknown }> }).entries;
  assert.deepEqual(Object.fromEntries(entries.map((e) => [e.key, e.value])), TAGGED);

  const one = await cli(['store', 'kinds', 'bigint200', '--app', 'app', '--state-dir', stateDir]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.stderr, '');

  const text = await cli(['store', 'kinds', '--app', 'app', '--state-dir', stateDir]);
  assert.equal(text.code, 0, text.stderr);
  const lines = Object.fromEntries(text.stdout.split('\n').slice(1, -1).map((l) => l.split('\t') as [string, string]));
  assert.equal(lines.bigint, '12n');
  assert.equal(lines.bigint200, `${-big}n`);
  assert.equal(lines.bigintHuge, `${huge.toString().slice(0, 4096)}…n (5001 digits)`);
  assert.equal(lines.map, "Map(2) { 'a' => 1, 2 => Set(1) { 'x' } }");
  assert.equal(lines.set, "Set(2) { 1, 'b' }");
  assert.equal(lines.nan, 'NaN');
  assert.equal(lines.negZero, '-0');
  assert.equal(lines.posInf, 'Infinity');
  assert.equal(lines.undef, '{ a: undefined, b: [ undefined ] }');
  assert.equal(lines.buffer, '<Buffer 68 65 6c 6c 6f>');
  assert.match(lines.bufferHuge!, /^<Buffer ab ab .* 9950 more bytes>$/);
  assert.equal(lines.date, '2024-01-02T03:04:05.000Z');
  assert.equal(lines.f64, 'Float64Array(2) [ 1.5, -2 ]');
  // A control character in a key or a string neither breaks the line nor reaches the terminal raw.
  assert.equal(lines['"esc\\u001b[2J"'], "'a\\x1B[2Jb\\tc\\nd'");
  assert.doesNotMatch(text.stdout, /\u001b/);
  assert.ok(text.stdout.length < 20_000, `text output bounded: ${text.stdout.length} characters`);

  // A partitioned store (its p<i> directories) is shown the same way.
  const part = await KeyValueStore.open({ dir: join(storeDir(stateDir, 'app', 'parts'), 'p0'), name: 'parts', partition: 0 });
  const cs = part.changeSet();
  cs.put('n', { total: 5n, seen: new Set(['a']) });
  await part.commit(cs);
  await part.close();
  const pjson = await cli(['store', 'parts', '--partition', '0', '--app', 'app', '--state-dir', stateDir, '--json']);
  assert.equal(pjson.code, 0, pjson.stderr);
  assert.deepEqual(JSON.parse(pjson.stdout).entries, [{ key: 'n', value: { total: { $bigint: '5' }, seen: { $set: ['a'] } } }]);
  const ptext = await cli(['store', 'parts', 'n', '--partition', '0', '--app', 'app', '--state-dir', stateDir]);
  assert.equal(ptext.code, 0, ptext.stderr);
  assert.match(ptext.stdout, /\nn\t\{ total: 5n, seen: Set\(1\) \{ 'a' \} \}\n$/);
});

test('the dashboard store browser answers every storable value in the tagged form (a BigInt no longer fails the read)', { timeout: 30_000 }, async (t) => {
  const stateDir = await storeWithEveryValue(t);
  const hub = new MetricsHub({ processMetrics: false });
  const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => ({}) });
  const dashboard = createDashboard({
    topology: { app: 'app', stores: ['kinds'], nodes: [], edges: [], instance: { id: null, index: null, count: null }, partitioned: [] },
    sampler, deadLetters: new DeadLetterRing({ parse: parseDeadLetter }), replay: async () => ({ replayed: {}, results: [] }),
    // The run's own browser (src/runtime/pipeline/dashboard-wiring.ts).
    browseStore: async (name, { prefix, limit }) => {
      const found = await inspectStore(storeDir(stateDir, 'app', name), name, { prefix, limit: limit + 1 });
      return { store: name, keys: found.keys, entries: found.entries.slice(0, limit), truncated: found.entries.length > limit };
    },
  });
  const server = await startObservabilityServer({ port: 0, metrics: hub, routes: dashboard.routes });
  t.after(async () => { dashboard.close(); await server.close(); });

  const answer = await get(server.port, '/api/stores/kinds');
  assert.equal(answer.status, 200, answer.text);
  const page = JSON.parse(answer.text) as { keys: number; entries: Array<{ key: string; value: unknown }> };
  assert.equal(page.keys, Object.keys(VALUES).length);
  assert.deepEqual(Object.fromEntries(page.entries.map((e) => [e.key, e.value])), TAGGED);
  const one = await get(server.port, '/api/stores/kinds?prefix=bigint6');
  assert.deepEqual(JSON.parse(one.text).entries, [{ key: 'bigint64', value: { $bigint: '9223372036854775807' } }]);
});
