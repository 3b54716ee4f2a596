import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDeadLetter, parseDeadLetter, MAX_KEY_CHARS } from '../../src/runtime/coordinator/dead-letter.js';
import { MAX_FRAME_BYTES } from '../../src/protocol/index.js';
import { runCli } from '../state/run-cli.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { DeadLetterRing, MAX_TALLIES, OTHER_CODES } from '../../src/observability/dashboard/dead-letter-ring.js';
import { fixture, harness } from './harness.js';

const LIMIT = MAX_FRAME_BYTES - 300;
const failure = (stack = 'Error: boom\n    at somewhere') => ({ code: 'PROCESSOR_ERROR', message: 'boom', stack, retriable: false, name: 'Error' });
const base = { processor: 'p', attempts: 1, firstFailureAt: 0, lastFailureAt: 0, sourceTopic: 'in', recordId: 'r1' };
/** Printable text gzip cannot shrink enough: base64 of random bytes. */
const noise = (chars: number) => randomBytes(chars).toString('base64').slice(0, chars);

test('a dead letter always fits one entry: a 5 MB key is cut (keyTruncated), a near-limit entry drops the stack before it is compressed, an incompressible one is identified instead of kept', () => {
  const keyed = JSON.parse(buildDeadLetter({ ...base, entry: '{"i":1}', error: failure(), key: 'k'.repeat(5_000_000) })) as Record<string, unknown>;
  assert.equal((keyed.key as string).length, MAX_KEY_CHARS);
  assert.equal(keyed.keyTruncated, true);
  assert.equal(parseDeadLetter(JSON.stringify(keyed)).original, '{"i":1}');

  // Fits only without the 2,000-character stack: kept verbatim, byte-exact.
  const near = noise(LIMIT - 700);
  const lean = buildDeadLetter({ ...base, entry: near, error: failure('x'.repeat(2_000)) });
  assert.ok(Buffer.byteLength(lean) <= LIMIT);
  assert.equal(JSON.parse(lean).entryEncoding, 'utf8');
  assert.equal(parseDeadLetter(lean).original, near);

  // Neither verbatim nor gzip+base64 fits: the dead letter names the entry (size, sha256, its start).
  const huge = noise(65_000);
  const omitted = buildDeadLetter({ ...base, entry: huge, error: failure() });
  assert.ok(Buffer.byteLength(omitted) <= LIMIT, `${Buffer.byteLength(omitted)} bytes`);
  const parsed = JSON.parse(omitted) as { entryEncoding: string; entry: string; entryBytes: number; entrySha256: string; error: { code: string } };
  assert.equal(parsed.entryEncoding, 'omitted');
  assert.equal(parsed.entryBytes, 65_000);
  assert.equal(parsed.entrySha256, createHash('sha256').update(huge).digest('hex'));
  assert.equal(parsed.entry, huge.slice(0, 1_000));
  assert.equal(parsed.error.code, 'PROCESSOR_ERROR');
  assert.throws(() => parseDeadLetter(omitted), (e: Error & { code?: string }) => e.code === 'DESERIALIZATION_ERROR' && /does not hold its entry \(65000 bytes, sha256 [0-9a-f]{64}\)/.test(e.message));
});

test('misused ctx.emit fails the processor that did it, and no dead letter is too large to write: the run completes every entry', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const huge = noise(65_000);
  const lines = [
    ...[0, 1, 2, 3].map((i) => JSON.stringify({ i })),
    JSON.stringify({ i: 4, bad: 'number-key' }), JSON.stringify({ i: 5, bad: 'object-key' }),
    JSON.stringify({ i: 6, bad: 'number-header' }), JSON.stringify({ i: 7, bad: 'huge-key' }),
    huge, // not JSON: `p` throws on it, and its dead letter cannot hold it
  ];
  await h.client.register('bounds.in');
  await h.client.putMany('bounds.in', lines);
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: bounds
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
sources:
  in: { topic: bounds.in, format: text, serializer: string }
processors:
  p: { module: ${JSON.stringify(fixture('hostile-emits.ts'))}, input: in, deadLetter: bounds.dlq, retry: { attempts: 1 } }
  q: { module: ${JSON.stringify(fixture('trail.ts'))}, input: p, ordering: key, deadLetter: bounds.dlq }
sinks:
  out: { topic: bounds.out, input: q }
`);
  const run = await runCli(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0', '--json']);
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { unreleased?: number };
  assert.equal(summary.unreleased, undefined, 'every entry completed (no dead letter failed to write)');
  const dead = (await h.drainEntries('bounds.dlq')).map((e) => JSON.parse(e) as { processor: string; error: { code: string; message: string }; entryEncoding: string; key?: string; keyTruncated?: boolean; entrySha256?: string });
  const by = (re: RegExp) => dead.filter((d) => re.test(d.error.message));
  assert.deepEqual(by(/with a key of type number/).map((d) => [d.processor, d.error.code]), [['p', 'INVALID_ARGUMENT']]);
  assert.deepEqual(by(/with a key of type object/).map((d) => [d.processor, d.error.code]), [['p', 'INVALID_ARGUMENT']]);
  assert.deepEqual(by(/header "tier" of type number/).map((d) => [d.processor, d.error.code]), [['p', 'INVALID_ARGUMENT']]);
  const tooLarge = dead.filter((d) => d.error.code === 'MESSAGE_TOO_LARGE');
  assert.equal(tooLarge.length, 1, 'the 5 MB key cannot be written to the sink');
  assert.equal(tooLarge[0]!.keyTruncated, true);
  assert.equal(tooLarge[0]!.key!.length, MAX_KEY_CHARS);
  const omitted = dead.filter((d) => d.entryEncoding === 'omitted');
  assert.equal(omitted.length, 1);
  assert.equal(omitted[0]!.processor, 'p');
  assert.equal(omitted[0]!.entrySha256, createHash('sha256').update(huge).digest('hex'));
  assert.equal(dead.length, 5);
  const logged = run.stderr.split('\n').filter((l) => l.includes('dead letter without its entry')).map((l) => JSON.parse(l) as { entry: string });
  assert.equal(logged.length, 1);
  assert.equal(logged[0]!.entry, huge, 'the whole entry is in the log');
  assert.deepEqual((await h.drain('bounds.out')).map((r) => (r.value as { i: number }).i).sort(), [0, 1, 2, 3]);
});

test('a processor choosing its error codes cannot make a dead letter unwritable or the run\'s dead-letter memory grow: codes are cut to 200 characters, tallies stop at 256 codes, the ring at 16 Mi characters', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const codes = 1_000;
  const big = 600;
  const lines = ['huge-code', 'huge-code', ...Array.from({ length: codes }, (_, i) => JSON.stringify({ i })), ...Array.from({ length: big }, () => noise(40_000))];
  await h.client.register('codes.in');
  await h.client.putMany('codes.in', lines);
  const { topology } = await loadTopologyText(`
app: codes
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
workers: 1
sources:
  in: { topic: codes.in, format: text, serializer: string }
processors:
  p: { module: ${JSON.stringify(fixture('throws-coded.ts'))}, input: in, deadLetter: codes.dlq, retry: { attempts: 1 } }
sinks:
  out: { topic: codes.out, input: p }
`, join(h.stateDir, 'topology.yaml'), {});
  const ring = new DeadLetterRing({ parse: parseDeadLetter });
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address], untilIdle: true, onDeadLetter: (written) => ring.add(written) });
  const summary = await pipeline.done;
  // Before: the two dead letters holding a 100,000-character code were larger than a frame, could not be written,
  // and their entries stayed unreleased in the journal (to fail again at every start).
  assert.equal(summary.unreleased, undefined, 'every dead letter was written');
  assert.equal(summary.processors.p!.deadLettered, lines.length);
  const dead = (await h.drainEntries('codes.dlq')).map((e) => JSON.parse(e) as { error: { code: string } });
  assert.equal(dead.length, lines.length);
  assert.deepEqual(dead.filter((d) => d.error.code.startsWith('CCC')).map((d) => d.error.code.length), [200, 200]);

  // The run's memory of them: 256 (processor, code) tallies and one for the rest; the latest dead letters up to
  // 16 Mi characters (600 of 40,000 characters, entry and original, were 48 Mi before: only the count was bounded).
  const tallies = ring.tallies();
  assert.equal(tallies.length, MAX_TALLIES + 1);
  assert.equal(tallies.reduce((a, x) => a + x.count, 0), lines.length);
  assert.equal(tallies.filter((x) => x.code !== OTHER_CODES).length, MAX_TALLIES);
  assert.ok(tallies.find((x) => x.code === OTHER_CODES)!.count > codes - MAX_TALLIES);
  const held = ring.list();
  const chars = held.reduce((a, v) => a + v.original.length, 0) * 2;
  assert.ok(chars <= ring.maxChars, `${held.length} dead letters held, ${chars} characters`);
  assert.ok(held.length >= 100, `${held.length} dead letters held`);
  assert.equal(ring.total, lines.length);
});
