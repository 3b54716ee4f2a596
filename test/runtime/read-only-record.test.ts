import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntry } from '../../src/codec/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { harness } from './harness.js';

// process() got the worker's own record: an id assigned on it became the base of the output ids (records given the
// same id wrote outputs with the same ids, which a downstream `dedupe` drops as copies), a key or headers of another
// type failed with Node's ERR_INVALID_ARG_TYPE, naming nothing. Now each such record fails, named, at once.
test('a processor that assigns its record\'s id, key, headers or timestamp has the record dead-lettered saying so (not written under a borrowed id); assigning the value is fine', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const bad = ['id', 'key', 'key-string', 'headers', 'timestamp', 'async-id'];
  const kinds = ['ok', ...bad, 'id', 'value', 'ok', 'headers-in-place'];
  await h.produce('in', kinds.map((kind, i) => ({ value: { kind, i }, key: `k${i}` })), 1);
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in }
processors:
  p: { module: ./reassigns-record.ts, input: in, deadLetter: dead, retry: { attempts: 3, initialDelay: 1ms } }
sinks:
  out: { topic: out, input: p }
observability: { logLevel: silent }
`);
  const out = await h.drain('out');
  assert.deepEqual(out.map((r) => r.value).sort((a, b) => (a as { i: number }).i - (b as { i: number }).i),
    [{ kind: 'ok', i: 0 }, { kind: 'value', i: 8, replaced: true }, { kind: 'ok', i: 9 }]);
  assert.deepEqual(out.map((r) => r.key).sort(), ['k0', 'k8', 'k9'], 'outputs keep their input keys');
  const dead = (await h.drainEntries('dead')).map(parseDeadLetter);
  const field = (kind: string) => kind === 'key-string' ? 'key' : kind === 'async-id' ? 'id' : kind;
  const kindOf = (d: { original: Buffer | string }) => (JSON.parse(decodeEntry(d.original)[0]!.value.toString()) as { kind: string }).kind;
  assert.deepEqual(dead.map(kindOf).sort(), [...bad, 'id', 'headers-in-place'].sort());
  // A header changed in place is not a reassigned field: it goes on with the outputs, and one that is not a string says so.
  const inPlace = dead.find((d) => kindOf(d) === 'headers-in-place')!;
  assert.equal(inPlace.error.code, 'SERIALIZATION_ERROR');
  assert.match(inPlace.error.message, /^A record for topic out could not be encoded: its header "tier" is a number \(a value set on record\.headers in place is sent on too\); keys and header values are strings/);
  for (const d of dead.filter((x) => x !== inPlace)) {
    const kind = kindOf(d);
    assert.equal(d.processor, 'p');
    assert.equal(d.attempts, 1, kind);
    assert.equal(d.error.code, 'INVALID_ARGUMENT', `${kind}: ${d.error.message}`);
    assert.match(d.error.message, new RegExp(`^processor "p" assigned record\\.${field(kind)} of its input record \\S+; a record's fields are read-only .*ctx\\.emit`), kind);
  }
  assert.equal(summary.inFlight, 0);
});
