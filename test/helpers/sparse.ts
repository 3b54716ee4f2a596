import assert from 'node:assert/strict';
import { WalrusError } from '../../src/errors/index.js';

/** An array of `length` holes: one assignment, no memory. */
export function sparse(length: number): unknown[] {
  const a: unknown[] = [];
  a.length = length;
  return a;
}

/** Asserts the MESSAGE_TOO_LARGE a value holding an array of `length` gets against an entry limit of `limit` bytes. */
export const tooLarge = (length: number, limit: number) => (e: unknown) => {
  assert.ok(e instanceof WalrusError, String(e));
  assert.equal(e.code, 'MESSAGE_TOO_LARGE');
  assert.equal(e.retriable, false);
  assert.match(e.message, new RegExp(`array of length ${length}, which encodes to at least ${length} bytes, over the max entry size of ${limit} bytes`));
  assert.equal(e.context.size, length);
  assert.equal(e.context.limit, limit);
  return true;
};
