import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync } from 'node:zlib';
import { Packr } from 'msgpackr';
import { BatchBuilder, EntryPacker, decodeEntry, encodeRecords } from '../../src/codec/index.js';
import { maxPayloadBytes } from '../../src/protocol/index.js';
import { WalrusError } from '../../src/errors/index.js';

// Entries another writer made: the envelope's MessagePack written by hand, as the audit's repros did.
const packr = new Packr({ useRecords: false, moreTypes: false });
const T = Date.UTC(2026, 0, 1);
/** The envelope's bounds (envelope-format.ts: MAX_TIMESTAMP_MS, MAX_ENTRY_RECORDS), spelled out so the tests state them. */
const MAX_TIMESTAMP_MS = 8.64e15;
const MAX_ENTRY_RECORDS = 10_000;
const entry = (batch: Record<string, unknown>) => `ws1:${packr.pack({ v: 1, ...batch }).toString('base64url')}`;
const rec = (dt: number, n = 0) => [Buffer.alloc(16, n), dt, Buffer.from(`{"n":${n}}`)];

function rejects(raw: string, message: RegExp): WalrusError {
  let caught: WalrusError | undefined;
  assert.throws(() => decodeEntry(Buffer.from(raw), { topic: 'in' }), (e: unknown) => {
    assert.ok(e instanceof WalrusError);
    assert.equal(e.code, 'DESERIALIZATION_ERROR');
    assert.match(e.message, message);
    assert.deepEqual(e.context.raw, Buffer.from(raw), 'the raw entry goes to the dead letter');
    caught = e;
    return true;
  });
  return caught!;
}

test('a record timestamp that is not an integer within the Date range is DESERIALIZATION_ERROR naming the record; the range\'s ends decode', () => {
  for (const [t, dt] of [[T, 0.5], [T, Number.NaN], [T, 1e300], [T, -Infinity], [Number.MAX_SAFE_INTEGER, 0], [MAX_TIMESTAMP_MS, 1], [-MAX_TIMESTAMP_MS, -1]] as const) {
    rejects(entry({ t: T, r: [rec(0), rec(t - T + dt, 1)] }),
      new RegExp(`record 1 has timestamp t \\+ dt = ${T} \\+ .*not an integer number of milliseconds within ±8640000000000000`));
    rejects(entry({ t, r: [rec(dt)] }), /record 0 has timestamp/);
  }
  for (const t of [MAX_TIMESTAMP_MS, -MAX_TIMESTAMP_MS, 0]) assert.equal(decodeEntry(entry({ t, r: [rec(0)] }))[0]!.timestamp, t);
  assert.equal(decodeEntry(entry({ t: T, r: [rec(-5)] }))[0]!.timestamp, T - 5);
});

test('writers refuse a timestamp readers would reject: encodeRecords, and EntryPacker.assertFits (the sinks\' per-record check) before pack', () => {
  for (const ts of [0.5, T + 0.5, Number.NaN, MAX_TIMESTAMP_MS + 1, Number.MAX_SAFE_INTEGER]) {
    const record = { value: Buffer.from('x'), timestamp: ts };
    const invalid = (e: unknown) => e instanceof WalrusError && e.code === 'INVALID_ARGUMENT' && /record timestamp must be an integer number of milliseconds within ±8640000000000000/.test(e.message);
    assert.throws(() => encodeRecords([record]), invalid, String(ts));
    assert.throws(() => new EntryPacker({ limit: maxPayloadBytes('out') }).assertFits(record), invalid, String(ts));
  }
  new EntryPacker({ limit: maxPayloadBytes('out') }).assertFits({ value: Buffer.from('x'), timestamp: -MAX_TIMESTAMP_MS });
});

test('an entry holding more records than MAX_ENTRY_RECORDS is DESERIALIZATION_ERROR with the count, the cap and what to do; checked from the array header before any record is decoded', () => {
  // The audit's bomb: 86 bytes of brotli that decoded to 1,000,000 records.
  const million = packr.pack(Array.from({ length: 1_000_000 }, () => ['', 0, Buffer.from('1')]));
  const bomb = entry({ t: T, c: 'br', z: brotliCompressSync(million) });
  assert.ok(bomb.length < 200, `${bomb.length} bytes`);
  const e = rejects(bomb, /the batch holds 1000000 records, more than the 10000 one entry may hold .*split them into entries of at most 10000 records/);
  assert.equal(e.context.records, 1_000_000);
  assert.equal(e.context.limit, MAX_ENTRY_RECORDS);
  // An array header claiming 20,000 records and nothing after it: refused for the count, not for the missing records.
  rejects(entry({ t: T, c: 'br', z: brotliCompressSync(Buffer.from([0xdc, 0x4e, 0x20])) }), /holds 20000 records/);
  rejects(entry({ t: T, c: 'br', z: brotliCompressSync(Buffer.from([0xdd, 0, 1, 0, 0])) }), /holds 65536 records/);
  // Uncompressed, and the cap itself.
  rejects(entry({ t: T, r: Array.from({ length: MAX_ENTRY_RECORDS + 1 }, () => ['', 0, Buffer.alloc(0)]) }), /holds 10001 records/);
  assert.equal(decodeEntry(entry({ t: T, r: Array.from({ length: MAX_ENTRY_RECORDS }, () => ['', 0, Buffer.alloc(0)]) })).length, MAX_ENTRY_RECORDS);
});

test('writers never put more than MAX_ENTRY_RECORDS records in an entry: the Producer\'s BatchBuilder and the sinks\' EntryPacker split, encodeRecords refuses', () => {
  // Records that compress to almost nothing (a caller's constant id, a one-byte value): by bytes alone 25,000 fit one entry.
  const records = Array.from({ length: 25_000 }, () => ({ value: Buffer.from('1'), id: 'x', timestamp: T }));
  const limit = maxPayloadBytes('out');
  const packer = new EntryPacker({ limit, compression: 'gzip' });
  const builder = () => {
    const b = new BatchBuilder({ limit, compression: 'brotli' }, memo);
    for (const r of records) b.add(r.value, r.timestamp, undefined, undefined, r.id);
    return b.build();
  };
  const memo = { ratio: 1 };
  // The second pass packs by the ratio the first observed: the case that used to hold them all.
  for (const entries of [packer.pack(records), packer.pack(records), builder(), builder()]) {
    const counts = entries.map((e) => decodeEntry(e).length);
    assert.ok(counts.every((n) => n <= MAX_ENTRY_RECORDS), counts.join(' '));
    assert.equal(counts.reduce((a, b) => a + b, 0), records.length);
  }
  assert.throws(() => encodeRecords(records.slice(0, MAX_ENTRY_RECORDS + 1)), (e: unknown) => e instanceof WalrusError && e.code === 'INVALID_ARGUMENT' &&
    /A record batch of 10001 records is more than the 10000 one entry may hold/.test(e.message));
  assert.equal(decodeEntry(encodeRecords(records.slice(0, MAX_ENTRY_RECORDS), { compression: 'gzip' })).length, MAX_ENTRY_RECORDS);
});
