import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBatchGet, parseBatchPut, parseGet, parseMetrics, parseOk, parseState, serverError } from '../../src/protocol/index.js';
import { WalrusError } from '../../src/errors/index.js';

const b = (s: string) => Buffer.from(s, 'utf8');
const code = (c: string) => (e: unknown) => e instanceof WalrusError && e.code === c;

test('OK, OK <payload> and EMPTY parse into typed results', () => {
  assert.equal(parseOk(b('OK')), undefined);
  assert.equal(parseGet(b('OK  hello world'))!.toString(), ' hello world');
  assert.equal(parseGet(b('EMPTY')), undefined);
  assert.equal(parseBatchPut(b('OK 17')), 17);
  assert.deepEqual(parseBatchGet(b('EMPTY')), []);
  assert.deepEqual(parseBatchGet(b('OK 2 1 a 3 b c')).map(String), ['a', 'b c']);
});

test('ERR texts map to codes through one table, keeping topic and server text', () => {
  const e = serverError('unknown topic orders', { node: '127.0.0.1:9', command: 'PUT' });
  assert.equal(e.code, 'TOPIC_NOT_FOUND');
  assert.equal(e.context.topic, 'orders');
  assert.equal(e.context.node, '127.0.0.1:9');
  assert.equal(e.context.serverMessage, 'unknown topic orders');
  assert.match(e.message, /register the topic/);
  assert.equal(serverError('unknown command').code, 'UNKNOWN_COMMAND');
  assert.equal(serverError('PUT requires a payload').code, 'INVALID_COMMAND');
  assert.equal(serverError('GET requires a topic').code, 'INVALID_COMMAND');
  assert.equal(serverError('invalid frame length').code, 'INVALID_FRAME');
  assert.equal(serverError('invalid utf-8').code, 'INVALID_FRAME');
  const other = serverError('forward failed: connection reset');
  assert.equal(other.code, 'SERVER_ERROR');
  assert.equal(other.retriable, true);
});

test('every parser throws the mapped error for ERR replies', () => {
  for (const parse of [parseOk, parseGet, parseBatchPut, parseBatchGet, parseState, parseMetrics]) {
    assert.throws(() => parse(b('ERR unknown topic x')), code('TOPIC_NOT_FOUND'));
  }
});

test('replies that do not fit the command are PROTOCOL_ERRORs (the connection must be retired)', () => {
  assert.throws(() => parseOk(b('OK extra')), code('PROTOCOL_ERROR'));
  assert.throws(() => parseOk(b('EMPTY')), code('PROTOCOL_ERROR'));
  assert.throws(() => parseGet(b('OK')), code('PROTOCOL_ERROR'));
  assert.throws(() => parseGet(b('{"current_segment":1}')), code('PROTOCOL_ERROR'));
  assert.throws(() => parseBatchPut(b('OK')), code('PROTOCOL_ERROR'));
  assert.throws(() => parseBatchGet(b('OK 2 1 a')), code('PROTOCOL_ERROR'));
  assert.throws(() => parseState(b('OK')), code('PROTOCOL_ERROR'));
  assert.throws(() => parseMetrics(b('[1,2]')), code('PROTOCOL_ERROR'));
});

test('STATE and METRICS parse the stock JSON shapes', () => {
  const state = parseState(b('{"current_segment":1,"leader_node":1,"last_sealed_entry_offset":0,"sealed_segments":{},"segment_leaders":{"1":1}}'));
  assert.equal(state.current_segment, 1);
  assert.deepEqual(state.segment_leaders, { '1': 1 });
  const metrics = parseMetrics(b('{\n  "id": 1,\n  "state": "Leader",\n  "current_leader": 1\n}'));
  assert.equal(metrics.state, 'Leader');
  assert.equal(metrics.current_leader, 1);
});
