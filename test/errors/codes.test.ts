import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, WalrusError, deserializeError, serializeError, isRetriable } from '../../src/errors/index.js';

const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

test('every error code is documented in docs/errors.md with its retriability', () => {
  const missing: string[] = [];
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    const row = docs.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    if (!row) missing.push(code);
    else assert.ok(row.includes(spec.retriable ? '| yes |' : '| no |'), `${code}: docs disagree on retriability`);
  }
  assert.deepEqual(missing, [], `undocumented error codes: ${missing.join(', ')}`);
});

test('docs/errors.md documents no code that does not exist', () => {
  const documented = [...docs.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!);
  const unknown = documented.filter((c) => !Object.hasOwn(ERROR_CODES, c));
  assert.deepEqual(unknown, []);
});

test('the seed review codes all exist', () => {
  for (const code of ['CONNECTION_TIMEOUT', 'CONNECTION_REFUSED', 'TOPIC_NOT_FOUND', 'TOPIC_ALREADY_EXISTS', 'INVALID_COMMAND', 'SERVER_ERROR', 'NETWORK_ERROR', 'SERIALIZATION_ERROR', 'DESERIALIZATION_ERROR', 'FRAME_TOO_LARGE']) {
    assert.ok(Object.hasOwn(ERROR_CODES, code), code);
  }
});

test('WalrusError carries code, retriable default, override, cause and context', () => {
  const cause = new Error('socket hang up');
  const e = new WalrusError('NETWORK_ERROR', 'lost', { cause, context: { node: '127.0.0.1:1' } });
  assert.equal(e.code, 'NETWORK_ERROR');
  assert.equal(e.retriable, true);
  assert.equal(e.cause, cause);
  assert.equal(e.context.node, '127.0.0.1:1');
  assert.equal(new WalrusError('SERVER_ERROR', 'x', { retriable: false }).retriable, false);
  assert.ok(isRetriable(e));
  assert.ok(!isRetriable(new Error('plain')));
});

test('errors round-trip as plain data and keep their code (the worker boundary)', () => {
  const original = new WalrusError('TOPIC_NOT_FOUND', 'no such topic', { context: { topic: 'orders' }, cause: new Error('inner') });
  const data = structuredClone(serializeError(original));
  const back = deserializeError(data);
  assert.ok(back instanceof WalrusError);
  assert.equal(back.code, 'TOPIC_NOT_FOUND');
  assert.equal(back.retriable, false);
  assert.equal(back.context.topic, 'orders');
  assert.equal((back.cause as WalrusError).message, 'inner');
  const foreign = deserializeError({ name: 'X', message: 'm', code: 'EWHATEVER', retriable: true });
  assert.equal(foreign.code, 'PROCESSOR_ERROR');
  assert.equal(foreign.context.originalCode, 'EWHATEVER');
});

test('instanceof works across module copies through the global brand', () => {
  const fake = Object.assign(new Error('x'), { [Symbol.for('walrus-stream.error')]: true });
  assert.ok(fake instanceof WalrusError);
  assert.ok(!(new Error('y') instanceof WalrusError));
});

test('serializeError keeps at most 16,000 characters of a message (an Error, a WalrusError, a thrown string) and 200 of a name, saying how many it left out; shorter ones unchanged', () => {
  const huge = 'm'.repeat(1_000_000);
  const plain = new Error(huge);
  plain.name = 'N'.repeat(300);
  for (const data of [serializeError(plain), serializeError(new WalrusError('PROCESSOR_ERROR', huge)), serializeError(huge)]) {
    assert.equal(data.message, `${'m'.repeat(16_000)}... (984000 more characters)`);
    assert.ok((data.stack ?? '').length <= 4_000);
  }
  assert.equal(serializeError(plain).name, `${'N'.repeat(200)}... (100 more characters)`);
  const short = serializeError(new Error('m'.repeat(16_000)));
  assert.equal(short.message.length, 16_000);
  assert.equal(short.name, 'Error');
});
