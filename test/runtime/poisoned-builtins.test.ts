import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntry } from '../../src/codec/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { harness } from './harness.js';

// A processor shares its worker thread's built-ins with every record there. One that set an enumerable
// Object.prototype property put it into the headers of every record the thread wrote; JSON.stringify replaced or a
// toJSON on a prototype wrote every JSON record as {} or "poisoned"; a replaced array iterator made the worker's own
// loops see no outputs, and whole batches were released with nothing written. Each change must be put back and
// charged to the record whose processor made it (dead-lettered, the reason naming it), and no other record harmed.
test('a processor that changes shared built-ins (Object.prototype, toJSON, JSON.stringify, the array iterator) has them put back and its record dead-lettered naming it; other records of the thread are written exactly', { timeout: 90_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const poisons = ['proto-enum', 'proto-tojson', 'array-tojson', 'stringify', 'iterator'];
  const asyncPoisons = poisons.map((p) => `async-${p}`);
  const kinds = ['ok', ...poisons.flatMap((p) => [p, 'ok']), ...asyncPoisons.flatMap((p) => [p, 'ok'])];
  await h.produce('in', kinds.map((kind, i) => ({ value: { kind, i } })), 1);
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in }
processors:
  p: { module: ./poisons-builtins.ts, input: in, deadLetter: dead, retry: { attempts: 2, initialDelay: 1ms } }
  q: { module: ./echo.js, input: in, deadLetter: dead, retry: { attempts: 2, initialDelay: 1ms } }
sinks:
  p: { topic: p.out, input: p }
  q: { topic: q.out, input: q }
  packed: { topic: p.packed, input: p, serializer: msgpack }
observability: { logLevel: silent }
`);
  const byI = (records: Array<{ value: unknown; headers: Record<string, string> }>) => {
    for (const r of records) assert.deepEqual(Object.keys(r.headers), ['content-type'], `no header added: ${JSON.stringify(r.headers)}`);
    return records.map((r) => r.value as { i: number }).sort((a, b) => a.i - b.i);
  };
  // The other processor of the thread: every record, exactly as it came.
  assert.deepEqual(byI(await h.drain('q.out')), kinds.map((kind, i) => ({ kind, i })));
  // The processor itself: each record once, in its sink (exact) or in the dead letters (named), none in both.
  const written = byI(await h.drain('p.out'));
  for (const v of written) assert.deepEqual(v, { kind: kinds[v.i], i: v.i, list: [1, 2] });
  const packed = (await h.drainEntries('p.packed')).flatMap((e) => decodeEntry(Buffer.from(e)));
  assert.equal(packed.length, written.length);
  const dead = (await h.drainEntries('dead')).map(parseDeadLetter);
  const deadKinds = dead.map((d) => (JSON.parse(decodeEntry(d.original)[0]!.value.toString()) as { kind: string }).kind);
  assert.deepEqual([...written.map((v) => kinds[v.i]!), ...deadKinds].sort(), [...kinds].sort(), 'every input once: written or dead-lettered');
  // A change made in process() itself is charged to its record for sure.
  for (const kind of poisons) assert.ok(deadKinds.includes(kind), `${kind} dead-lettered`);
  assert.ok(!deadKinds.includes('ok'), 'no innocent record dead-lettered');
  for (const d of dead) {
    assert.equal(d.processor, 'p');
    assert.equal(d.error.code, 'PROCESSOR_ERROR');
    assert.match(d.error.message, /^processor "p" changed built-ins its worker thread shares with every other record \(.*(added|replaced).*\) while it ran on record .*they were put back/);
  }
  assert.match(dead[deadKinds.indexOf('iterator')]!.error.message, /\(Array\.prototype\[Symbol\.iterator\] replaced\)/);
  assert.match(dead[deadKinds.indexOf('proto-enum')]!.error.message, /\(Object\.prototype\.tier added\)/);
  assert.equal(summary.inFlight, 0);
});

test('what a processor module does to built-ins as it loads (BigInt.prototype.toJSON) is kept: every record is written with it, none dead-lettered', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('in', Array.from({ length: 20 }, (_, i) => ({ value: { i } })), 1);
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: in }
processors:
  p: { module: ./bigint-tojson.ts, input: in, deadLetter: dead, retry: { attempts: 2, initialDelay: 1ms } }
sinks:
  p: { topic: p.out, input: p }
observability: { logLevel: silent }
`);
  const written = (await h.drain('p.out')).map((r) => r.value as { i: number; big: string }).sort((a, b) => a.i - b.i);
  assert.deepEqual(written, Array.from({ length: 20 }, (_, i) => ({ i, big: `${i}${i === 0 ? '' : '0'.repeat(20)}` })));
  assert.deepEqual(await h.drainEntries('dead'), []);
  assert.deepEqual([summary.processors.p!.deadLettered, summary.processors.p!.retries], [0, 0]);
});
