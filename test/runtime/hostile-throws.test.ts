import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serializeError } from '../../src/errors/index.js';
import { fixture, harness } from './harness.js';

test('serializeError never throws, whatever was thrown: getters, proxies, toString and non-string fields are read guardedly and described', () => {
  const proxy = new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); }, ownKeys() { throw new Error('trap'); } });
  const e = new Error('m');
  Object.defineProperty(e, 'stack', { value: 7 });
  Object.defineProperty(e, 'message', { get() { throw new Error('getter'); } });
  Object.defineProperty(e, 'cause', { get() { throw new Error('cause'); } });
  const cases: Array<[unknown, RegExp]> = [
    [Object.create(null), /thrown instead of an Error/],
    [{ toString() { throw new Error('no'); } }, /thrown instead of an Error/],
    [{ code: 42 }, /^\{"code":42\} \(thrown instead of an Error\)$/],
    [Symbol('s'), /^Symbol\(s\) \(thrown instead of an Error\)$/],
    [proxy, /thrown instead of an Error/],
    ['plain text', /^plain text$/],
    [{ big: 'x'.repeat(5_000) }, /^.{1000}\.\.\. \(thrown/],
  ];
  for (const [value, message] of cases) {
    const s = serializeError(value);
    assert.equal(s.code, 'PROCESSOR_ERROR');
    assert.match(s.message, message);
  }
  const fromError = serializeError(e);
  assert.equal(fromError.message, '');
  assert.equal(fromError.stack, undefined);
  assert.equal(fromError.cause, undefined);
});

test('a processor throwing values that are not Errors, or Errors whose fields throw, or returning a result whose then/proxy traps throw: each record fails as PROCESSOR_ERROR and is dead-lettered; no worker thread dies; the other records pass', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const kinds = ['null-prototype', 'tostring-throws', 'plain-object', 'symbol', 'stack-number', 'message-getter', 'cause-getter', 'then-getter', 'proxy'];
  const lines = ['ok-1', ...kinds, 'ok-2'].map((kind) => JSON.stringify({ kind }));
  await h.client.register('hostile.in');
  await h.client.putMany('hostile.in', lines);
  const summary = await h.run(`
app: hostile
stateDir: \${STATE_DIR}/state
sources:
  in: { topic: hostile.in, format: text }
processors:
  h: { module: ${JSON.stringify(fixture('hostile-throws.ts'))}, input: in, deadLetter: hostile.dlq, retry: { attempts: 2, initialDelay: 1ms } }
sinks:
  out: { topic: hostile.out, input: h }
`, { workers: 1 });
  assert.equal(summary.processors.h!.deadLettered, kinds.length);
  const dead = (await h.drainEntries('hostile.dlq')).map((e) => JSON.parse(e) as { entry: string; attempts: number; error: { code: string; message: string } });
  const byKind = new Map(dead.map((d) => [(JSON.parse(d.entry) as { kind: string }).kind, d]));
  assert.deepEqual([...byKind.keys()].sort(), [...kinds].sort());
  for (const [kind, d] of byKind) {
    assert.equal(d.error.code, 'PROCESSOR_ERROR', `${kind}: ${d.error.message}`);
    assert.equal(d.attempts, 2, `${kind}: retried like any processor error, not split as a crash`);
  }
  assert.equal(byKind.get('plain-object')!.error.message, '{"code":42} (thrown instead of an Error)');
  assert.equal(byKind.get('then-getter')!.error.message, 'then getter');
  assert.equal(byKind.get('proxy')!.error.message, 'proxy trap');
  assert.equal(byKind.get('stack-number')!.error.message, 'stack is a number');
  assert.deepEqual((await h.drain('hostile.out')).map((r) => (r.value as { kind: string }).kind).sort(), ['ok-1', 'ok-2']);
});
