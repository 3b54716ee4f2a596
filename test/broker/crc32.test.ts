import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32, crc32Portable } from '../../src/broker/store/crc32.js';

test('the portable CRC-32 (for Node < 20.15) matches the native one', () => {
  assert.equal(crc32Portable(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32Portable(Buffer.alloc(0)), 0);
  for (let i = 0; i < 200; i++) {
    const data = randomBytes(i * 7);
    assert.equal(crc32Portable(data), crc32(data));
  }
});
