import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packEntries, unpackEntries } from '../../src/runtime/wire/preload-blob.js';

test('preload entries round-trip through one blob: unicode keys, empty and binary values, none at all', () => {
  const entries: Array<[string, Uint8Array]> = [
    ['c-1@0001780272000000', new Uint8Array(Buffer.from('{"revenueEur":1.5}'))],
    ['ключ@~stream-time', new Uint8Array([0, 255, 1])],
    ['k', new Uint8Array(0)],
  ];
  const back = unpackEntries(packEntries(entries));
  assert.deepEqual(back.map(([k, v]) => [k, [...v]]), entries.map(([k, v]) => [k, [...v]]));
  assert.deepEqual(unpackEntries(packEntries([])), []);
  // Values are views into the blob, not copies.
  const blob = packEntries(entries);
  assert.equal(unpackEntries(blob)[0]![1].buffer, blob.buffer);
});
