import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeBatchGet, encodeBatchPut, encodeGet, encodeMetrics, encodePut, encodeRegister, encodeState,
  maxPayloadBytes, parseLengthPrefixedList, payloadProblem, topicProblem, MAX_BATCH_ENTRIES, MAX_FRAME_BYTES,
} from '../../src/protocol/index.js';
import { WalrusError } from '../../src/errors/index.js';

const body = (frame: Buffer) => frame.subarray(4).toString('utf8');
const code = (c: string) => (e: unknown) => e instanceof WalrusError && e.code === c;

test('simple commands encode as OP TOPIC', () => {
  assert.equal(body(encodeRegister('orders')), 'REGISTER orders');
  assert.equal(body(encodeGet('orders.dlq')), 'GET orders.dlq');
  assert.equal(body(encodeState('a:b_c-1')), 'STATE a:b_c-1');
  assert.equal(body(encodeMetrics()), 'METRICS');
});

test('PUT keeps inner and leading spaces and unicode', () => {
  assert.equal(body(encodePut('t', '  a  b é ✓')), 'PUT t   a  b é ✓');
});

test('topic names: allowed set, length and clear errors', () => {
  assert.equal(topicProblem('Orders_2024.v1:eu-west'), undefined);
  assert.match(topicProblem('has space')!, /contains a space/);
  assert.match(topicProblem('tab\there')!, /contains "\\t"/);
  assert.match(topicProblem('slash/x')!, /contains "\/"/);
  assert.match(topicProblem('é')!, /contains "é"/);
  assert.match(topicProblem('')!, /empty/);
  assert.match(topicProblem('x'.repeat(250))!, /250 characters long, the limit is 249/);
  assert.equal(topicProblem('x'.repeat(249)), undefined);
  assert.match(topicProblem('..')!, /must not be/);
  assert.throws(() => encodeGet('bad topic'), code('INVALID_TOPIC'));
});

test('payloads the server would alter are refused before sending', () => {
  // Every character Rust's char::is_whitespace accepts, at the end of a payload.
  const rustWhitespace = [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, ...Array.from({ length: 11 }, (_, i) => 0x2000 + i), 0x2028, 0x2029, 0x202f, 0x205f, 0x3000];
  for (const cp of rustWhitespace) {
    assert.throws(() => encodePut('t', `x${String.fromCodePoint(cp)}`), code('INVALID_PAYLOAD'), `U+${cp.toString(16)}`);
  }
  // Not whitespace for Rust, although JavaScript's \s matches U+FEFF.
  assert.equal(payloadProblem('x\uFEFF'), undefined);
  assert.equal(payloadProblem('x\u200B'), undefined);
  assert.match(payloadProblem('')!, /empty/);
  assert.match(payloadProblem('   ')!, /only whitespace/);
  assert.match(payloadProblem('a\ud800')!, /lone surrogate/);
  assert.match(payloadProblem('end ')!, /U\+0020/);
});

test('PUT at exactly the frame limit is accepted; one byte more is FRAME_TOO_LARGE with sizes', () => {
  const max = maxPayloadBytes('t');
  assert.equal(encodePut('t', 'x'.repeat(max)).length, 4 + MAX_FRAME_BYTES);
  assert.throws(() => encodePut('t', 'x'.repeat(max + 1)), (e: unknown) =>
    e instanceof WalrusError && e.code === 'FRAME_TOO_LARGE' && e.context.size === MAX_FRAME_BYTES + 1 && e.context.topic === 't');
  // multi-byte characters count in bytes, not UTF-16 units
  assert.throws(() => encodePut('t', 'é'.repeat(max / 2 + 1)), code('FRAME_TOO_LARGE'));
});

test('BATCH_PUT layout round-trips through the shared list parser, byte-exact', () => {
  const entries = ['a', ' lead', 'é✓ unicode', 'x'.repeat(1000)];
  const frame = encodeBatchPut('t', entries);
  const text = frame.subarray(4);
  assert.equal(frame.readUInt32LE(0), text.length);
  assert.ok(text.toString('utf8').startsWith('BATCH_PUT t 4 1 a 5  lead 13 é✓ unicode 1000 x'));
  const parsed = parseLengthPrefixedList(text, 'BATCH_PUT t '.length, MAX_BATCH_ENTRIES);
  assert.deepEqual(parsed.map((b) => b.toString('utf8')), entries);
});

test('BATCH_PUT validates count, every entry and the frame size', () => {
  assert.throws(() => encodeBatchPut('t', []), code('INVALID_ARGUMENT'));
  assert.throws(() => encodeBatchPut('t', new Array(MAX_BATCH_ENTRIES + 1).fill('x')), code('INVALID_ARGUMENT'));
  assert.throws(() => encodeBatchPut('t', ['ok', 'bad ']), code('INVALID_PAYLOAD'));
  assert.throws(() => encodeBatchPut('t', ['x'.repeat(40_000), 'y'.repeat(40_000)]), code('FRAME_TOO_LARGE'));
  assert.equal(encodeBatchPut('t', new Array(MAX_BATCH_ENTRIES).fill('x')).readUInt32LE(0) > 0, true);
});

test('BATCH_GET validates its limits', () => {
  assert.equal(body(encodeBatchGet('t', 256, 60_000)), 'BATCH_GET t 256 60000');
  assert.throws(() => encodeBatchGet('t', 0), code('INVALID_ARGUMENT'));
  assert.throws(() => encodeBatchGet('t', 2001), code('INVALID_ARGUMENT'));
  assert.throws(() => encodeBatchGet('t', 1, 0), code('INVALID_ARGUMENT'));
});

test('the list parser rejects every inconsistency with PROTOCOL_ERROR', () => {
  const bad = ['0', '2 1 a', '1 5 abc', '1 1 ab', '1 01 a', '1 x a', '1  1 a', '3000 1 a', ''];
  for (const s of bad) {
    assert.throws(() => parseLengthPrefixedList(Buffer.from(s), 0, MAX_BATCH_ENTRIES), code('PROTOCOL_ERROR'), JSON.stringify(s));
  }
});
