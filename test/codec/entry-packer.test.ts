import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EntryPacker, decodeEntry, toPlainTextEntry } from '../../src/codec/index.js';
import { maxPayloadBytes } from '../../src/protocol/index.js';
import { WalrusError } from '../../src/errors/index.js';

const limit = maxPayloadBytes('orders');

test('many records pack into few entries, each within the limit, in order', () => {
  const packer = new EntryPacker({ limit, contentType: 'text/plain' });
  const records = Array.from({ length: 5000 }, (_, i) => ({ value: Buffer.from(`record-${i}`.padEnd(100, '.')) }));
  const entries = packer.pack(records);
  assert.ok(entries.length >= 5 && entries.length <= 20, `${entries.length} entries`);
  for (const e of entries) assert.ok(Buffer.byteLength(e) <= limit);
  const values = entries.flatMap((e) => decodeEntry(e)).map((r) => Buffer.from(r.value).toString());
  assert.deepEqual(values, records.map((r) => r.value.toString()));
});

test('compressed batches hold many more records per entry and still fit', () => {
  const json = (i: number) => Buffer.from(JSON.stringify({ id: i, status: 'accepted', customer: 'customer-000123', total: 99.5, currency: 'EUR' }));
  const records = Array.from({ length: 20_000 }, (_, i) => ({ value: json(i) }));
  const plain = new EntryPacker({ limit }).pack(records);
  const packer = new EntryPacker({ limit, compression: 'gzip', compressionThreshold: 1024 });
  const packed = packer.pack(records);
  const again = packer.pack(records); // with the observed ratio
  assert.ok(again.length * 3 < plain.length, `${again.length} gzip entries vs ${plain.length} plain`);
  for (const e of [...packed, ...again]) assert.ok(e.length <= limit);
  const back = again.flatMap((e) => decodeEntry(e));
  assert.equal(back.length, records.length);
  assert.equal(JSON.parse(Buffer.from(back[12_345]!.value).toString()).id, 12_345);
});

test('a record that cannot fit alone is MESSAGE_TOO_LARGE with size and limit; one that barely fits passes', () => {
  const packer = new EntryPacker({ limit, topic: 'orders' });
  const big = { value: randomBytes(limit) };
  assert.throws(() => packer.assertFits(big), (e: unknown) => {
    assert.ok(e instanceof WalrusError);
    assert.equal(e.code, 'MESSAGE_TOO_LARGE');
    assert.equal(e.context.limit, limit);
    assert.ok((e.context.size as number) > limit);
    assert.match(e.message, /orders/);
    return true;
  });
  // Largest value that fits: find it by bisection and check both sides.
  let lo = 0;
  let hi = limit;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    try {
      packer.assertFits({ value: Buffer.alloc(mid, 1) });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  const [entry] = packer.pack([{ value: Buffer.alloc(lo, 1) }]);
  assert.ok(entry!.length <= limit && entry!.length > limit - 8, `${entry!.length}`);
  assert.throws(() => packer.assertFits({ value: Buffer.alloc(lo + 1, 1) }), { code: 'MESSAGE_TOO_LARGE' });
  // With compression, a large compressible value fits.
  new EntryPacker({ limit, compression: 'brotli' }).assertFits({ value: Buffer.alloc(limit * 4, 'a') });
  assert.throws(() => new EntryPacker({ limit, compression: 'gzip' }).assertFits(big), /after gzip compression/);
});

test('plain text entries refuse what the stock node would alter', () => {
  assert.equal(toPlainTextEntry(Buffer.from('  hi there'), limit), '  hi there');
  for (const [value, pattern] of [
    [Buffer.from('trailing '), /whitespace/],
    [Buffer.from(''), /empty/],
    [Buffer.from([0xff, 0x41]), /not valid UTF-8/],
    [Buffer.from('ws1:abc'), /envelope/],
  ] as const) {
    assert.throws(() => toPlainTextEntry(value, limit, 'logs'), (e: unknown) => e instanceof WalrusError && e.code === 'INVALID_PAYLOAD' && pattern.test(e.message) && /logs/.test(e.message));
  }
  assert.throws(() => toPlainTextEntry(Buffer.alloc(limit + 1, 'a'), limit), { code: 'MESSAGE_TOO_LARGE' });
});

test('a near-limit record among small ones gets an entry of its own; order and limits hold, with and without compression', async () => {
  const { BatchBuilder } = await import('../../src/codec/index.js');
  for (const compression of ['none', 'gzip'] as const) {
    const builder = new BatchBuilder({ limit, compression, compressionThreshold: 256 }, { ratio: 1 }, 64);
    const values: Buffer[] = [];
    for (let i = 0; i < 300; i++) values.push(Buffer.from(`small-${i}`.repeat(i % 7 + 1)));
    values.splice(150, 0, randomBytes(48_000)); // incompressible, just under the limit
    values.forEach((v, i) => builder.add(v, 1_000 + i, `k${i}`));
    assert.equal(builder.count, 301);
    const entries = builder.build();
    for (const e of entries) assert.ok(e.length <= limit, `${compression}: ${e.length}`);
    const back = entries.flatMap((e) => decodeEntry(e));
    assert.deepEqual(back.map((r) => Buffer.from(r.value).toString('hex')), values.map((v) => v.toString('hex')), compression);
    assert.deepEqual(back.map((r) => r.timestamp), values.map((_, i) => 1_000 + i));
    assert.deepEqual(back.map((r) => r.key), values.map((_, i) => `k${i}`));
    // A record refused by add() leaves the batch as it was.
    assert.throws(() => builder.add(randomBytes(60_000), 5), { code: 'MESSAGE_TOO_LARGE' });
    assert.equal(builder.count, 301);
    assert.equal(builder.build().flatMap((e) => decodeEntry(e)).length, 301);
  }
});
