import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { decodeEntry, encodeRecords, encodeBatch, isEnvelope, ENVELOPE_MAGIC, newRecordId } from '../../src/codec/index.js';
import { payloadProblem } from '../../src/protocol/index.js';
import { WalrusError } from '../../src/errors/index.js';

test('an envelope entry is "ws1:" + unpadded base64url and round-trips every field', () => {
  const id = newRecordId();
  const entry = encodeRecords(
    [
      { value: Buffer.from('hello  '), key: 'k1', timestamp: 1_700_000_000_000, headers: { 'correlation-id': 'c-1' }, id },
      { value: new Uint8Array([0, 255, 10, 32]), timestamp: 1_700_000_000_005 },
      { value: new Uint8Array(0), key: '', timestamp: 1_699_999_999_000 },
    ],
    { contentType: 'application/x-test' },
  );
  assert.ok(entry.startsWith(ENVELOPE_MAGIC));
  assert.match(entry.slice(4), /^[A-Za-z0-9_-]+$/);
  assert.equal(payloadProblem(entry), undefined);
  const records = decodeEntry(Buffer.from(entry));
  assert.equal(records.length, 3);
  assert.equal(records[0]!.id, id);
  assert.equal(records[0]!.key, 'k1');
  assert.equal(records[0]!.timestamp, 1_700_000_000_000);
  assert.deepEqual(records[0]!.headers, { 'content-type': 'application/x-test', 'correlation-id': 'c-1' });
  assert.equal(Buffer.from(records[0]!.value).toString(), 'hello  ');
  assert.deepEqual([...records[1]!.value], [0, 255, 10, 32]);
  assert.equal(records[1]!.key, undefined);
  assert.equal(records[1]!.timestamp, 1_700_000_000_005);
  assert.equal(records[2]!.key, '');
  assert.equal(records[2]!.value.length, 0);
  assert.equal(records[2]!.timestamp, 1_699_999_999_000);
  assert.match(records[1]!.id, /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(records[1]!.id, records[2]!.id);
  assert.ok(records.every((r) => r.format === 'envelope'));
});

test('a non-canonical string id is kept as a string', () => {
  const [r] = decodeEntry(encodeRecords([{ value: new Uint8Array([1]), id: 'order-42' }]));
  assert.equal(r!.id, 'order-42');
});

test('plain text entries decode as one text record with a stable content-derived id', () => {
  const a = decodeEntry(Buffer.from('hello world'), { now: () => 42 });
  assert.equal(a.length, 1);
  assert.equal(a[0]!.format, 'text');
  assert.equal(Buffer.from(a[0]!.value).toString(), 'hello world');
  assert.equal(a[0]!.timestamp, 42);
  assert.deepEqual(a[0]!.headers, {});
  assert.match(a[0]!.id, /^t[A-Za-z0-9_-]{22}$/);
  assert.equal(decodeEntry('hello world')[0]!.id, a[0]!.id);
  assert.notEqual(decodeEntry('hello world!')[0]!.id, a[0]!.id);
  assert.ok(!isEnvelope(Buffer.from('ws1')));
  // The id is part of what is on disk (journal entries, state stores' applied ids): it must never change.
  // "t" + base64url of the first 16 bytes of the entry's SHA-256.
  for (const text of ['hello world', '', '{"orderId":"o-1"}', 'é∑\u0000x'.repeat(100)]) {
    const expected = `t${createHash('sha256').update(Buffer.from(text)).digest().subarray(0, 16).toString('base64url')}`;
    assert.equal(decodeEntry(Buffer.from(text))[0]?.id, expected, JSON.stringify(text.slice(0, 20)));
  }
  assert.equal(a[0]!.id, 'tuU0nuZNNPgilLlLX2n2r-g', 'the id of "hello world" as every earlier version computed it');
});

test('corrupt envelopes throw DESERIALIZATION_ERROR carrying the raw bytes', () => {
  const good = encodeRecords([{ value: Buffer.from('x') }]);
  for (const bad of ['ws1:', 'ws1:!!!!', 'ws1:AAAAA', `${good.slice(0, -3)}`, 'ws1:' + Buffer.from([0x81, 0xa1, 0x76, 0x09]).toString('base64url'), `ws1:${Buffer.from([0xc0]).toString('base64url')}`]) {
    assert.throws(() => decodeEntry(Buffer.from(bad), { topic: 'orders' }), (e: unknown) => {
      assert.ok(e instanceof WalrusError);
      assert.equal(e.code, 'DESERIALIZATION_ERROR');
      assert.deepEqual(e.context.raw, Buffer.from(bad));
      assert.equal(e.context.topic, 'orders');
      return true;
    }, bad);
  }
});

test('compression is applied above the threshold, flagged, and only when it pays', () => {
  const json = Buffer.from(JSON.stringify({ user: 'someone', items: Array.from({ length: 40 }, (_, i) => ({ sku: `sku-${i}`, qty: 1 })) }));
  const records = Array.from({ length: 20 }, () => ({ value: json }));
  const plain = encodeBatch(records);
  for (const compression of ['gzip', 'brotli'] as const) {
    const packed = encodeBatch(records, { compression, compressionThreshold: 1024 });
    assert.ok(packed.compressed, compression);
    assert.ok(packed.entry.length * 5 < plain.entry.length, `${compression} ratio`);
    const back = decodeEntry(packed.entry);
    assert.equal(back.length, 20);
    assert.ok(back.every((r) => Buffer.from(r.value).equals(json)));
  }
  const small = encodeBatch([{ value: Buffer.from('tiny') }], { compression: 'gzip', compressionThreshold: 1024 });
  assert.equal(small.compressed, false);
  const random = encodeBatch([{ value: Buffer.from(Array.from({ length: 4000 }, () => Math.floor(Math.random() * 256))) }], { compression: 'gzip', compressionThreshold: 1 });
  assert.equal(random.compressed, false, 'incompressible data is stored uncompressed');
});

test('property: any records round-trip through encode/decode byte-exact', () => {
  const record = fc.record(
    {
      value: fc.uint8Array({ maxLength: 300 }),
      key: fc.string({ unit: 'grapheme', maxLength: 20 }),
      timestamp: fc.integer({ min: 0, max: 4_102_444_800_000 }),
      headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ unit: 'grapheme', maxLength: 20 }), { maxKeys: 4 }),
    },
    { requiredKeys: ['value'] },
  );
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 20 }), fc.constantFrom('none', 'gzip', 'brotli') as fc.Arbitrary<'none' | 'gzip' | 'brotli'>, (records, compression) => {
      const entry = encodeRecords(records, { compression, compressionThreshold: 64, now: () => 1234 });
      assert.equal(payloadProblem(entry), undefined);
      const back = decodeEntry(Buffer.from(entry, 'utf8'));
      assert.equal(back.length, records.length);
      back.forEach((r, i) => {
        const want = records[i]!;
        assert.deepEqual(Buffer.from(r.value), Buffer.from(want.value));
        assert.equal(r.key, want.key);
        assert.equal(r.timestamp, want.timestamp ?? 1234);
        assert.deepEqual(Object.entries(r.headers), Object.entries(want.headers ?? {}));
      });
    }),
    { numRuns: 150 },
  );
});
