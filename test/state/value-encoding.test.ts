import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { WalrusError } from '../../src/errors/index.js';
import { decodeValue, encodeValue } from '../../src/state/model/codec.js';
import { REFUSAL, REFUSED, ROUND_TRIP, sameValue } from './fixtures/state-value-cases.js';

// The state value codec alone (the same values through real workers, a restart and a changelog restore:
// value-round-trip.test.ts). Before: a Map read back as an object, a Set as an array, -0 as 0, a typed array as a
// Buffer, a Buffer as a Uint8Array once its bytes had crossed a thread; a class instance, a hole, a RegExp, an own
// "__proto__" key or a lone surrogate were stored changed without a word.

/** The bytes as a worker gets them: a Uint8Array over an ArrayBuffer of its own, not a Buffer. */
const crossed = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));

test('every kept value reads back equal in type and content, from a Buffer and from bytes that crossed a thread', () => {
  for (const [name, make] of Object.entries(ROUND_TRIP)) {
    const bytes = encodeValue('s', name, make());
    for (const [from, input] of [['buffer', bytes], ['crossed', crossed(bytes)]] as const) {
      const back = decodeValue(input);
      assert.ok(sameValue(back, make()), `${name} (${from}): got ${String(back instanceof Object ? back.constructor.name : back)} ${JSON.stringify(back, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
    }
  }
});

test('every other value is refused at put() with STATE_STORE_ERROR naming the store, the key, what it holds and where', () => {
  for (const [name, make] of Object.entries(REFUSED)) {
    assert.throws(() => encodeValue('totals', name, make()), (error: unknown) => {
      assert.ok(error instanceof WalrusError, name);
      assert.equal(error.code, 'STATE_STORE_ERROR', name);
      assert.match(error.message, new RegExp(`^store "totals": the value for key "${name}" cannot be stored: `), name);
      assert.match(error.message, REFUSAL[name]!, name);
      assert.ok(error.message.isWellFormed(), `${name}: the message itself is well-formed text`);
      return true;
    }, name);
  }
});

test('plain data is written byte for byte as before (existing readers, no new cost), and values stored by the earlier encoding read back as they did', () => {
  const before = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, copyBuffers: true });
  const plainValues: unknown[] = [
    { revenueEur: 12.5, orders: 3 }, 0, 1.5, 'x', null, true, [1, [2, { a: 'b' }]], new Date(5), 10n, { a: undefined },
  ];
  for (const value of plainValues) assert.deepEqual(encodeValue('s', 'k', value), before.pack(value), String(value));

  // Hex of what the earlier encoding wrote for these (state dirs and changelog topics hold such bytes).
  const stored: Array<[string, unknown]> = [
    ['de0006aa726576656e7565457572cb4029000000000000a66f726465727303a26174d7ff1d5353006553f100a47461677392a161a162a46e6f7465c0a4676f6e65d40000',
      { revenueEur: 12.5, orders: 3, at: new Date(1_700_000_000_123), tags: ['a', 'b'], note: null, gone: undefined }],
    ['de0002a16ed3000000000000000aa175cfffffffffffffffff', { n: 10n, u: 2n ** 64n - 1n }],
    ['de0002a3627566c4026869a27538c4020102', { buf: Buffer.from('hi'), u8: Buffer.from([1, 2]) }], // any bytes were bin: a Buffer
    ['82a16101a1629102', { a: 1, b: [2] }], // a Map was written as a msgpack map: an object, as before
    ['920102', [1, 2]], // a Set was written as an array
    ['00', 0], // -0 was written as 0
  ];
  for (const [hex, want] of stored) {
    const bytes = Buffer.from(hex, 'hex');
    assert.deepEqual(decodeValue(bytes), want, hex);
    // As before, bytes written as bin read back as the type of what they are read from.
    const wantCrossed = hex === stored[2]![0] ? { buf: new Uint8Array([0x68, 0x69]), u8: new Uint8Array([1, 2]) } : want;
    assert.deepEqual(decodeValue(crossed(bytes)), wantCrossed, `${hex} (crossed)`);
  }
});
