import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { EntryPacker, decodeEntry, encodeRecords } from '../../src/codec/index.js';
import { maxPayloadBytes } from '../../src/protocol/index.js';
import { WalrusError } from '../../src/errors/index.js';

// Entries another writer made: the envelope's MessagePack written by hand, as the audit's repros did.
const packr = new Packr({ useRecords: false, moreTypes: false });
const T = Date.UTC(2026, 0, 1);
/** The envelope's timestamp bound (envelope-format.ts: MAX_TIMESTAMP_MS), spelled out so the tests state it. */
const MAX_TIMESTAMP_MS = 8.64e15;
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
