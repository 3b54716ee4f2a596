import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WalrusError } from '../../src/errors/index.js';
import { encodeAck, encodeBatchLease, parseBatchLease, serverError } from '../../src/protocol/index.js';

const b = (s: string) => Buffer.from(s, 'utf8');
const body = (frame: Buffer) => {
  assert.equal(frame.readUInt32LE(0), frame.length - 4, 'length prefix');
  return frame.subarray(4).toString('utf8');
};
const code = (c: string) => (e: unknown) => e instanceof WalrusError && e.code === c;

test('encodeBatchLease / encodeAck produce the documented frames', () => {
  assert.equal(body(encodeBatchLease('orders', 100, 4096)), 'BATCH_LEASE orders 100 4096');
  assert.equal(body(encodeBatchLease('orders', 2000)), 'BATCH_LEASE orders 2000 65536');
  assert.equal(body(encodeBatchLease('orders', 1, 5e12)), 'BATCH_LEASE orders 1 999999999', 'max_bytes clamped to what the node parses');
  assert.equal(body(encodeAck('orders', 42)), 'ACK orders 42');
  assert.equal(body(encodeAck('orders', 123_456_789_012_345)), 'ACK orders 123456789012345');
});

test('encoders refuse what the node would reject, naming the argument', () => {
  assert.throws(() => encodeBatchLease('orders', 0), /max_entries must be an integer from 1 to 2000, got 0/);
  assert.throws(() => encodeBatchLease('orders', 2001), code('INVALID_ARGUMENT'));
  assert.throws(() => encodeBatchLease('orders', 1.5), code('INVALID_ARGUMENT'));
  assert.throws(() => encodeBatchLease('orders', 10, 0), /max_bytes must be a positive integer/);
  assert.throws(() => encodeBatchLease('bad topic', 10), code('INVALID_TOPIC'));
  assert.throws(() => encodeAck('orders', 0), /lease id .* got 0/);
  assert.throws(() => encodeAck('orders', -3), code('INVALID_ARGUMENT'));
  assert.throws(() => encodeAck('orders', 2 ** 53), code('INVALID_ARGUMENT'));
  assert.throws(() => encodeAck('', 1), code('INVALID_TOPIC'));
});

test('parseBatchLease: EMPTY, the lease id and the entries (binary-safe views)', () => {
  assert.equal(parseBatchLease(b('EMPTY')), undefined);
  const lease = parseBatchLease(b('OK 17 3 1 a 3 b c 3 ü!'))!;
  assert.equal(lease.leaseId, 17);
  assert.deepEqual(lease.entries.map(String), ['a', 'b c', 'ü!']);
  assert.equal(parseBatchLease(b('OK 123456789012345 1 1 x'))!.leaseId, 123_456_789_012_345);
});

test('parseBatchLease rejects malformed replies as PROTOCOL_ERROR and maps ERR texts', () => {
  for (const bad of ['OK', 'OK 1', 'OK x 1 1 a', 'OK 01 1 1 a', 'OK 1 1 2 a', 'OK 1 2 1 a', 'OK 1234567890123456 1 1 a', 'OKAY', 'OK 1  1 1 a']) {
    assert.throws(() => parseBatchLease(b(bad)), code('PROTOCOL_ERROR'), bad);
  }
  assert.throws(() => parseBatchLease(b('ERR unknown command')), code('UNKNOWN_COMMAND'));
  assert.throws(() => parseBatchLease(b('ERR unknown topic t')), code('TOPIC_NOT_FOUND'));
  assert.throws(() => parseBatchLease(b('ERR BATCH_LEASE requires a payload')), code('INVALID_COMMAND'));
});

test('ERR unknown lease maps to LEASE_NOT_FOUND (not retriable) with the id; ACK argument errors to INVALID_COMMAND', () => {
  const e = serverError('unknown lease 42', { command: 'ACK', topic: 'orders' });
  assert.equal(e.code, 'LEASE_NOT_FOUND');
  assert.equal(e.retriable, false);
  assert.equal(e.context.leaseId, 42);
  assert.match(e.message, /delivered again/);
  assert.equal(serverError('ACK requires a lease id').code, 'INVALID_COMMAND');
  assert.equal(serverError('invalid lease id "x": expected the decimal id from a BATCH_LEASE reply').code, 'INVALID_COMMAND');
  assert.equal(serverError('unknown lease x').code, 'SERVER_ERROR');
  assert.equal(serverError('too many open leases (4096) on this connection: ACK some first').code, 'INVALID_COMMAND');
});
