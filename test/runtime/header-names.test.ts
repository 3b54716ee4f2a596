import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Producer } from '../../src/client/index.js';
import { harness } from './harness.js';

// Headers cross threads with every record (to a worker, back as an exit or a failure, on to the next group). Every
// name must survive, "__proto__" too (the envelope promises it): as an own header of the object processors see, never
// as a change of its prototype, whether the processors share a stage group or not.
test('a "__proto__" header reaches every processor and sink as an own header: fused, unfused and retried from a failure alike', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const producer = new Producer(h.client, { topic: 'in' });
  await producer.send({}, { key: 'k', headers: Object.fromEntries([['__proto__', 'p'], ['x-normal', 'n']]) });
  await producer.close();
  await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in }
processors:
  a: { module: ./header-names.ts, input: in }
  b: { module: ./header-names.ts, input: a, config: { flaky: true }, retry: { attempts: 3, initialDelay: 1ms } }
  c: { module: ./header-names.ts, input: a, fuse: false }
  d: { module: ./header-names.ts, input: c }
sinks:
  fused: { topic: fused, input: b }
  unfused: { topic: unfused, input: d }
observability: { logLevel: silent }
`);
  for (const [sink, path] of [['fused', ['a', 'b']], ['unfused', ['a', 'c', 'd']]] as const) {
    const records = await h.drain(sink);
    assert.equal(records.length, 1, sink);
    const { headers, value } = records[0]!;
    assert.ok(Object.hasOwn(headers, '__proto__'), `${sink}: the sink record has its "__proto__" header: ${JSON.stringify(Object.keys(headers))}`);
    assert.equal(headers['__proto__' as string], 'p');
    assert.equal(headers['x-normal'], 'n');
    assert.equal(Object.hasOwn(headers, '__proto_'), false, `${sink}: no renamed header`);
    const seen = (value as { seen: Array<{ processor: string; names: string[]; own: boolean; plain: boolean }> }).seen;
    assert.deepEqual(seen.map((s) => s.processor), path);
    for (const s of seen) {
      assert.ok(s.own && s.plain, `${sink}: processor ${s.processor} saw "__proto__" as an own header, prototype untouched: ${JSON.stringify(s)}`);
      assert.deepEqual(s.names.filter((n) => n !== 'content-type'), ['__proto__', 'x-normal'], `${sink}: ${s.processor}`);
    }
  }
});
