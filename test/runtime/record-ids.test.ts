import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { deriveRecordId, deriveRecordIdBytes, recordIdText } from '../../src/runtime/wire/record-ids.js';

// Derived ids are what downstream consumers deduplicate on after a replay: the
// same input must give the same id in every version.

test('deriveRecordId: 22 base64url characters of the 16 derived bytes, deterministic, distinct per processor, position and parent', () => {
  const id = deriveRecordId('t0123456789abcdefghijkl', 'enrich', 0);
  assert.match(id, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(id, deriveRecordId('t0123456789abcdefghijkl', 'enrich', 0));
  assert.equal(id, Buffer.from(deriveRecordIdBytes('t0123456789abcdefghijkl', 'enrich', 0)).toString('base64url'));
  const seen = new Set<string>();
  for (const parent of ['a', 'b', 'ab']) for (const processor of ['p', 'q']) for (let i = 0; i < 300; i++) seen.add(deriveRecordId(parent, processor, i));
  assert.equal(seen.size, 3 * 2 * 300);
  // Pinned: the id every earlier version derived for these inputs.
  assert.equal(deriveRecordId('a', 'double', 0), 'MZIZej6t5EVmZBxbsmZghA');
  assert.equal(deriveRecordId('orders-1', 'parse', 1), 'SN_SbYJQtVgQG4xZUDG9Pw');
});

test('recordIdText reads the id\'s own bytes, also from a view into a larger buffer', () => {
  const bytes = createHash('sha256').update('x').digest();
  const view = bytes.subarray(8, 24);
  assert.equal(recordIdText(view), Buffer.from(Uint8Array.prototype.slice.call(view)).toString('base64url'));
  assert.equal(recordIdText(new Uint8Array(16)), 'AAAAAAAAAAAAAAAAAAAAAA');
});

test('recordIdText writes what Buffer#toString(\'base64url\') writes, for every byte value in every position', () => {
  for (let v = 0; v < 256; v++) {
    for (let at = 0; at < 16; at++) {
      const bytes = new Uint8Array(16).fill((v * 31 + at) & 0xff);
      bytes[at] = v;
      assert.equal(recordIdText(bytes), Buffer.from(bytes).toString('base64url'), `byte ${v} at ${at}`);
    }
  }
  assert.equal(recordIdText(new Uint8Array(16).fill(0xff)), '_____________________w');
  // Not an id's length: still base64url, through Buffer.
  assert.equal(recordIdText(new Uint8Array([1, 2, 3, 4])), Buffer.from([1, 2, 3, 4]).toString('base64url'));
});
