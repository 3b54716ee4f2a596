import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, decodeResult, encodeBatch, encodeResult, type BatchResult, type WireRecord } from '../../src/runtime/wire/messages.js';
import { decodeEntry, EntryPacker } from '../../src/codec/index.js';

const base = (i: number, extra: Partial<WireRecord> = {}): WireRecord => ({
  id: `id-${i}`, value: { n: i }, headers: {}, timestamp: 1_700_000_000_000 + i, source: 'in', attempt: 1, ...extra,
});

/** What a record looks like after the trip, for deepEqual: absent optional fields come back as undefined. */
const normal = (r: WireRecord) => ({ ...r, key: r.key, encoding: r.encoding, state: r.state });

test('a batch round-trips column by column: shared and varying fields alike', () => {
  const shared = { 'content-type': 'application/json' };
  const records: WireRecord[] = [
    base(0),
    base(1, { key: 'k1', headers: shared }),
    base(2, { key: 'k2', headers: shared, attempt: 3 }),
    base(3, { headers: { a: '1', b: '2' }, source: 'p.default' }),
    base(4, { value: Buffer.from('{"x":1}'), encoding: 'json', state: [{ store: 's', entries: [['k4', new Uint8Array([1, 2])]] }] }),
    base(5, { value: 'text', timestamp: 1.5 }),
  ];
  const decoded = decodeBatch(encodeBatch(records));
  assert.equal(decoded.length, records.length);
  decoded.forEach((r, i) => {
    const want = normal(records[i]!);
    assert.deepEqual({ ...r, value: r.value instanceof Uint8Array ? Buffer.from(r.value).toString() : r.value },
      { ...want, value: want.value instanceof Uint8Array ? Buffer.from(want.value).toString() : want.value }, `record ${i}`);
  });
});

test('records that shared one headers object get one each after the trip (a processor may change its own)', () => {
  const shared = { 'content-type': 'application/json' };
  const decoded = decodeBatch(encodeBatch([base(0, { headers: shared }), base(1, { headers: shared })]));
  decoded[0]!.headers.changed = 'yes';
  assert.deepEqual(decoded[1]!.headers, { 'content-type': 'application/json' });
  assert.notEqual(decoded[0]!.headers, decoded[1]!.headers);
});

test('uniform batches collapse: one source, attempt 1, no headers cost no column', () => {
  const uniform = Array.from({ length: 200 }, (_, i) => base(i, { value: Buffer.from(`{"n":${i}}`), encoding: 'json' }));
  const mixed = uniform.map((r, i) => ({ ...r, source: `s${i}`, attempt: 1 + (i % 2), headers: { h: String(i) } }));
  assert.ok(encodeBatch(uniform).byteLength < encodeBatch(mixed).byteLength * 0.7,
    `uniform ${encodeBatch(uniform).byteLength} B vs varied ${encodeBatch(mixed).byteLength} B`);
  assert.deepEqual(decodeBatch(encodeBatch([])), []);
});

test('results round-trip: successes with and without outputs, sunk counts, state writes, failures in between', () => {
  const result: BatchResult = {
    results: [
      { ok: true, outputs: [], sunk: 2, durationMs: 0.25 },
      { ok: false, error: { name: 'WalrusError', code: 'PROCESSOR_ERROR', message: 'boom', retriable: true }, durationMs: 1 },
      { ok: true, outputs: [{ output: 'default', value: { a: 1 } }, { output: 'late', value: 2, key: 'k', headers: { x: 'y' }, index: 3 }], sunk: 0, durationMs: 2 },
      { ok: true, outputs: [], sunk: 0, durationMs: 3, state: [{ store: 's', writes: [['k', new Uint8Array([7])]] }] },
    ],
    packed: [{ sink: 'out', entries: ['ws1:abc'], records: [0, 0] }],
    metrics: { threadId: 3, counters: [], summaries: [] },
  };
  const decoded = decodeResult(encodeResult(result));
  assert.deepEqual(decoded.packed, result.packed);
  assert.deepEqual(decoded.metrics, result.metrics);
  assert.equal(decoded.results.length, 4);
  assert.deepEqual(decoded.results[0], result.results[0]);
  assert.deepEqual(decoded.results[1], result.results[1]);
  assert.deepEqual(decoded.results[2], result.results[2]);
  const st = decoded.results[3]!;
  assert.ok(st.ok && st.state);
  assert.deepEqual(st.state[0]!.writes[0]![0], 'k');
  assert.deepEqual([...(st.state[0]!.writes[0]![1] as Uint8Array)], [7]);
  assert.equal(decodeResult(encodeResult({ results: [], packed: [] })).metrics, undefined);
});

test('decodeEntry shares one headers object per entry only when asked', () => {
  const packer = new EntryPacker({ limit: 1 << 20, topic: 't', contentType: 'application/json' });
  const [entry] = packer.pack([{ value: Buffer.from('1') }, { value: Buffer.from('2') }, { value: Buffer.from('3'), headers: { own: 'x' } }]);
  const sharedRecords = decodeEntry(Buffer.from(entry!), { shareHeaders: true });
  assert.equal(sharedRecords[0]!.headers, sharedRecords[1]!.headers);
  assert.deepEqual(sharedRecords[0]!.headers, { 'content-type': 'application/json' });
  assert.deepEqual(sharedRecords[2]!.headers, { 'content-type': 'application/json', own: 'x' });
  const own = decodeEntry(Buffer.from(entry!));
  assert.notEqual(own[0]!.headers, own[1]!.headers);
  assert.deepEqual(own[0]!.headers, own[1]!.headers);
});

test('state travels by store: names once when every record has the same stores, as lists otherwise', () => {
  const bytes = (n: number) => new Uint8Array([n]);
  const uniform: WireRecord[] = [
    base(0, { key: 'a', state: [{ store: 's1', entries: [['a', bytes(1)]] }, { store: 's2', entries: [] }] }),
    base(1, { key: 'b' }),
    base(2, { key: 'c', state: [{ store: 's1', entries: [] }, { store: 's2', entries: [['c@1', bytes(2)], ['c', bytes(3)]] }] }),
  ];
  const mixed: WireRecord[] = [
    base(0, { key: 'a', state: [{ store: 's1', entries: [['a', bytes(1)]] }] }),
    base(1, { key: 'b', state: [{ store: 's2', entries: [['b', bytes(4)]] }] }),
  ];
  for (const records of [uniform, mixed]) {
    const decoded = decodeBatch(encodeBatch(records));
    decoded.forEach((r, i) => {
      const want = records[i]!.state?.map((p) => ({ store: p.store, entries: p.entries.map(([k, v]) => [k, [...v]]) }));
      assert.deepEqual(r.state?.map((p) => ({ store: p.store, entries: p.entries.map(([k, v]) => [k, [...v]]) })), want, `record ${i}`);
    });
  }
  const result = decodeResult(encodeResult({ results: [
    { ok: true, outputs: [], durationMs: 1, state: [{ store: 's1', writes: [['a', bytes(9)], ['a@x', null]] }] },
    { ok: true, outputs: [], durationMs: 1 },
    { ok: true, outputs: [], durationMs: 1, state: [{ store: 's2', writes: [['c', null]] }] },
  ], packed: [] }));
  const states = result.results.map((r) => (r.ok ? r.state?.map((w) => ({ store: w.store, writes: w.writes.map(([k, v]) => [k, v === null ? null : [...v]]) })) : 'failed'));
  assert.deepEqual(states, [[{ store: 's1', writes: [['a', [9]], ['a@x', null]] }], undefined, [{ store: 's2', writes: [['c', null]] }]]);
});
