import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, decodeResult, encodeBatch, encodeResult, type GroupBatchResult, type TaskRecord } from '../../src/runtime/wire/messages.js';
import { unpackValue } from '../../src/runtime/wire/batch-codec.js';
import { encodeGroupResult } from '../../src/runtime/worker/result-encoding.js';
import type { GroupSpecWire } from '../../src/runtime/wire/messages.js';
import { decodeEntry, EntryPacker } from '../../src/codec/index.js';

const base = (i: number, extra: Partial<TaskRecord> = {}): TaskRecord => ({
  id: `id-${i}`, value: { n: i }, headers: {}, timestamp: 1_700_000_000_000 + i, source: 'in', attempt: 1, entry: 0, single: false, ...extra,
});

/** What a record looks like after the trip, for deepEqual: absent optional fields come back as undefined. */
const normal = (r: TaskRecord) => ({ ...r, key: r.key, encoding: r.encoding, state: undefined, preload: r.preload, chained: r.chained ?? false });
const bytesOf = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString() : v);

test('a batch round-trips column by column: shared and varying fields alike, entry members and single runs included', () => {
  const shared = { 'content-type': 'application/json' };
  const records: TaskRecord[] = [
    base(0),
    base(1, { key: 'k1', headers: shared, entry: 2 }),
    base(2, { key: 'k2', headers: shared, attempt: 3, single: true }),
    base(3, { headers: { a: '1', b: '2' }, source: 'p.default' }),
    base(4, { value: Buffer.from('{"x":1}'), encoding: 'json', key: 'k4', preload: [{ member: 1, stores: [{ store: 's', entries: [['k4', new Uint8Array([1, 2])]] }] }] }),
    base(5, { value: 'text', timestamp: 1.5 }),
    base(6, { key: 'k4', chained: true }),
  ];
  const decoded = decodeBatch(encodeBatch(records));
  assert.equal(decoded.length, records.length);
  decoded.forEach((r, i) => {
    const want = normal(records[i]!);
    const got = { ...r, value: bytesOf(r.value), preload: r.preload?.map((p) => ({ member: p.member, stores: p.stores.map((s) => ({ store: s.store, entries: s.entries.map(([k, v]) => [k, [...v]]) })) })) };
    const expected = { ...want, value: bytesOf(want.value), preload: want.preload?.map((p) => ({ member: p.member, stores: p.stores.map((s) => ({ store: s.store, entries: s.entries.map(([k, v]) => [k, [...v]]) })) })) };
    assert.deepEqual(got, expected, `record ${i}`);
  });
});

test('records that shared one headers object get one each after the trip (a processor may change its own)', () => {
  const shared = { 'content-type': 'application/json' };
  const decoded = decodeBatch(encodeBatch([base(0, { headers: shared }), base(1, { headers: shared })]));
  decoded[0]!.headers.changed = 'yes';
  assert.deepEqual(decoded[1]!.headers, { 'content-type': 'application/json' });
  assert.notEqual(decoded[0]!.headers, decoded[1]!.headers);
});

test('uniform batches collapse: one source, attempt 1, one entry member, no headers cost no column', () => {
  const uniform = Array.from({ length: 200 }, (_, i) => base(i, { value: Buffer.from(`{"n":${i}}`), encoding: 'json' }));
  const mixed = uniform.map((r, i) => ({ ...r, source: `s${i}`, attempt: 1 + (i % 2), headers: { h: String(i) }, entry: i % 3, single: i % 2 === 0 }));
  assert.ok(encodeBatch(uniform).byteLength < encodeBatch(mixed).byteLength * 0.7,
    `uniform ${encodeBatch(uniform).byteLength} B vs varied ${encodeBatch(mixed).byteLength} B`);
  assert.deepEqual(decodeBatch(encodeBatch([])), []);
  assert.deepEqual(decodeBatch(encodeBatch(mixed)).map((r) => [r.entry, r.single]), mixed.map((r) => [r.entry, r.single]));
});

test('preloads of several members travel per store, named once per batch', () => {
  const bytes = (n: number) => new Uint8Array([n]);
  const records = [
    base(0, { key: 'a', preload: [{ member: 1, stores: [{ store: 's1', entries: [['a', bytes(1)]] }] }, { member: 3, stores: [{ store: 's2', entries: [] }] }] }),
    base(1, { key: 'b' }),
    base(2, { key: 'c', preload: [{ member: 2, stores: [{ store: 's3', entries: [['c@1', bytes(2)]] }] }] }),
  ];
  const decoded = decodeBatch(encodeBatch(records));
  const view = (r: TaskRecord) => r.preload?.map((p) => [p.member, p.stores.map((s) => [s.store, s.entries.map(([k, v]) => [k, [...v]])])]);
  assert.deepEqual(decoded.map(view), records.map(view));
});

test('a refused preload (a key of a partition not owned here) crosses as its reason, next to ordinary ones, whether the batch names its stores once or per record', () => {
  const bytes = (n: number) => new Uint8Array([n]);
  const why = 'store "totals": key "b" belongs to partition 1 of 4, which this instance does not own';
  const view = (r: TaskRecord) => r.preload?.map((p) => [p.member, p.stores.map((s) => [s.store, s.entries.map(([k, v]) => [k, [...v]]), s.refused])]);
  const uniform = [
    base(0, { key: 'a', preload: [{ member: 1, stores: [{ store: 'totals', entries: [['a', bytes(1)]] }] }] }),
    base(1, { key: 'b', preload: [{ member: 1, stores: [{ store: 'totals', entries: [], refused: why }] }] }),
  ];
  const mixed = [
    ...uniform,
    base(2, { key: 'c', preload: [{ member: 2, stores: [{ store: 'other', entries: [], refused: why }] }] }),
  ];
  for (const records of [uniform, mixed]) {
    const decoded = decodeBatch(encodeBatch(records));
    assert.deepEqual(decoded.map(view), records.map(view));
    assert.equal(decoded[1]!.preload![0]!.stores[0]!.refused, why);
    assert.equal(decoded[0]!.preload![0]!.stores[0]!.refused, undefined);
  }
});

test('results round-trip: member counts, exits (inherited and own headers), failures, state writes, packed entries, metrics', () => {
  const result: GroupBatchResult = {
    members: [{ member: 0, processed: 3, dropped: 1, emitted: 4, busyMs: 1.5, durations: [0.5, 0.5, 0.5] }, { member: 2, processed: 1, dropped: 0, emitted: 0, busyMs: 2, durations: [2] }],
    entryDurations: Float64Array.from([0.5, 0.25, 1]),
    exits: [
      { index: 0, target: 'next', id: 'x0', key: 'k', value: { a: 1 }, source: 'p.default', hops: [0, 0] },
      { index: 2, target: 'other', id: 'x1', value: 2, headers: { h: 'v' }, source: 'p.late', hops: [0, 1, 2, 0] },
      { index: 2, target: 'next', id: 'x2', value: 3, headers: {}, source: 'p.default', hops: [0, 2] },
    ],
    failures: [{ index: 1, member: 2, hops: [0, 0], attempt: 1, record: { id: 'r', key: 'k', value: 9, headers: {}, source: 'p.default' },
      error: { name: 'WalrusError', code: 'PROCESSOR_ERROR', message: 'boom', retriable: true } }],
    state: [{ index: 0, member: 2, hops: [0, 0], writes: [{ store: 's', writes: [['k', new Uint8Array([7])], ['k@x', null]] }] }],
    packed: [{ sink: 'out', entries: ['ws1:abc'], records: [0, 0] }],
    metrics: { threadId: 3, counters: [], summaries: [] },
    deferred: [3, 4],
  };
  const decoded = decodeResult(encodeResult(result));
  assert.deepEqual(decoded.deferred, [3, 4]);
  assert.deepEqual(decoded.packed, result.packed);
  assert.deepEqual(decoded.metrics, result.metrics);
  assert.deepEqual(decoded.members, result.members);
  assert.deepEqual([...decoded.entryDurations], [...result.entryDurations]);
  // Exits leave the group as bytes the next group's worker unpacks (encoding `wire`): the coordinator never builds their values.
  assert.ok(decoded.exits.every((x) => x.encoding === 'wire' && x.value instanceof Uint8Array));
  assert.deepEqual(decoded.exits.map((x) => ({ ...x, value: unpackValue(x.value as Uint8Array), encoding: undefined })),
    result.exits.map((x) => ({ ...x, key: x.key, headers: x.headers, encoding: undefined })));
  assert.deepEqual(decoded.failures, result.failures);
  assert.equal(decoded.state.length, 1);
  assert.deepEqual(decoded.state[0]!.writes.map((w) => [w.store, w.writes.map(([k, v]) => [k, v === null ? null : [...v]])]), [['s', [['k', [7]], ['k@x', null]]]]);
  const empty = decodeResult(encodeResult({ members: [], entryDurations: new Float64Array(0), exits: [], failures: [], state: [], packed: [] }));
  assert.equal(empty.metrics, undefined);
  assert.equal(empty.deferred, undefined);
  assert.deepEqual([empty.exits, empty.failures, empty.state], [[], [], []]);
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

test('a spilled chain crosses both ways: exits marked spilled come back marked (the others not), and a continuation\'s remaining steps ride on its task record', () => {
  const result: GroupBatchResult = {
    members: [], entryDurations: new Float64Array(2), failures: [], state: [], packed: [],
    exits: [
      { index: 0, target: 'b', id: 'x1', key: 'k', value: { j: 1 }, source: 'a.default', hops: [0, 1], spilled: true },
      { index: 0, target: 'other', id: 'x2', value: 2, source: 'a.default', hops: [0, 2] },
      { index: 1, target: 'a', id: 'r1', key: 'k', value: undefined, source: 'in', hops: [], spilled: true },
    ],
  };
  const decoded = decodeResult(encodeResult(result));
  assert.deepEqual(decoded.exits.map((x) => [x.id, x.spilled]), [['x1', true], ['x2', undefined], ['r1', true]]);
  const record = (id: string): TaskRecord => ({ id, key: 'k', value: 1, headers: {}, timestamp: 5, source: 'in', attempt: 1, encoding: undefined, state: undefined, entry: 0, single: false });
  const resume = [{ member: 1, hops: [0, 1], id: 'x1', key: 'k', value: { j: 1 }, source: 'a.default' }, { member: 1, hops: [0, 3], id: 'x3', value: 3, headers: { h: 'v' }, source: 'a.default' }];
  const batch = decodeBatch(encodeBatch([record('r0'), { ...record('r1'), resume }]));
  assert.equal(batch[0]!.resume, undefined);
  assert.deepEqual(batch[1]!.resume, resume);
  assert.equal(decodeBatch(encodeBatch([record('r0')]))[0]!.resume, undefined);
});

test('a "__proto__" header crosses every way as an own header, not as a prototype: task records, resume steps, exits and failures', () => {
  const odd = (): Record<string, string> => Object.fromEntries([['__proto__', 'p'], ['x-normal', 'n']]);
  const same = (headers: Record<string, string> | undefined, where: string) => {
    assert.ok(headers !== undefined && Object.hasOwn(headers, '__proto__'), `${where}: "__proto__" is an own header`);
    assert.equal(Object.getPrototypeOf(headers), Object.prototype, `${where}: the prototype is untouched`);
    assert.deepEqual(Object.entries(headers), [['__proto__', 'p'], ['x-normal', 'n']], where);
  };
  const resume = [{ member: 1, hops: [0, 1], id: 'x1', value: 1, headers: odd(), source: 'a.default' }];
  const [record] = decodeBatch(encodeBatch([base(0, { headers: odd(), resume })]));
  same(record!.headers, 'task record');
  same(record!.resume![0]!.headers, 'resume step');
  const decoded = decodeResult(encodeResult({
    members: [], entryDurations: new Float64Array(1), state: [], packed: [],
    exits: [{ index: 0, target: 'b', id: 'x1', value: 1, headers: odd(), source: 'a.default', hops: [0, 0] }],
    failures: [{ index: 0, member: 1, hops: [0, 0], attempt: 1, record: { id: 'x1', value: 1, headers: odd(), source: 'a.default' },
      error: { name: 'WalrusError', code: 'PROCESSOR_ERROR', message: 'boom', retriable: true } }],
  }));
  same(decoded.exits[0]!.headers, 'exit');
  same(decoded.failures[0]!.record!.headers, 'failure');
});

test('a failure on a record that cannot cross threads (a fused member passed on a function) comes back final, not as a result that cannot be sent', () => {
  const group = { name: 'g', timeoutMs: 0, members: [{ name: 'a' }, { name: 'b' }] } as unknown as GroupSpecWire;
  const failure = { index: 0, member: 1, hops: [0, 0], attempt: 1, record: { id: 'x', value: { fn() {} }, headers: {}, source: 'a.default' },
    error: { name: 'Error', code: 'PROCESSOR_ERROR', message: 'boom', retriable: true } };
  const decoded = decodeResult(encodeGroupResult(group, { members: [], entryDurations: new Float64Array(1), exits: [], failures: [failure], state: [], packed: [] }));
  assert.equal(decoded.failures.length, 1);
  const [f] = decoded.failures;
  assert.equal(f!.error.code, 'SERIALIZATION_ERROR');
  assert.equal(f!.error.retriable, false);
  assert.match(f!.error.message, /processor "b" failed \(PROCESSOR_ERROR: boom\) on a record that cannot be passed between threads: it holds a function \(fn\)/);
  assert.equal(f!.record!.value, null);
});

test('a Map in a value stays a Map wherever the value crosses: an exit, a spilled step, a failure\'s record, a resume step, a derived task record', () => {
  const value = () => ({ tags: new Map<unknown, unknown>([['vip', true], [1, 'one']]) });
  const decoded = decodeResult(encodeResult({
    members: [], entryDurations: new Float64Array(1), state: [], packed: [],
    exits: [{ index: 0, target: 'b', id: 'x1', value: value(), source: 'a.default', hops: [0, 0] },
      { index: 0, target: 'b', id: 'x2', value: value(), source: 'a.default', hops: [0, 1], spilled: true }],
    failures: [{ index: 0, member: 1, hops: [0, 0], attempt: 1, record: { id: 'x1', value: value(), headers: {}, source: 'a.default' },
      error: { name: 'WalrusError', code: 'PROCESSOR_ERROR', message: 'boom', retriable: true } }],
  }));
  const [batched] = decodeBatch(encodeBatch([base(0, { value: value(), resume: [{ member: 1, hops: [0, 1], id: 'x1', value: value(), source: 'a.default' }] })]));
  for (const [where, got] of [['exit', unpackValue(decoded.exits[0]!.value as Uint8Array)], ['spilled step', decoded.exits[1]!.value],
    ['failure', decoded.failures[0]!.record!.value], ['task record', batched!.value], ['resume step', batched!.resume![0]!.value]] as const) {
    assert.deepEqual(got, value(), where);
    assert.ok((got as { tags: unknown }).tags instanceof Map, where);
  }
});

test('a "__proto__" key inside a value comes back as an own key wherever the value crosses (msgpackr alone reads it back as "__proto_"), also beside a Map, in arrays, Sets and Maps', () => {
  const odd = () => JSON.parse('{"__proto__": {"admin": true}, "n": 1}') as Record<string, unknown>;
  const value = () => ({ top: odd(), list: [odd(), 2], set: new Set([odd()]), tags: new Map<unknown, unknown>([['m', odd()]]) });
  const plain = () => ({ top: odd(), list: [odd(), 2] });
  const decoded = decodeResult(encodeResult({
    members: [], entryDurations: new Float64Array(1), state: [], packed: [],
    exits: [{ index: 0, target: 'b', id: 'x1', value: value(), source: 'a.default', hops: [0, 0] },
      { index: 0, target: 'b', id: 'x2', value: plain(), source: 'a.default', hops: [0, 1], spilled: true }],
    failures: [{ index: 0, member: 1, hops: [0, 0], attempt: 1, record: { id: 'x1', value: plain(), headers: {}, source: 'a.default' },
      error: { name: 'WalrusError', code: 'PROCESSOR_ERROR', message: 'boom', retriable: true } }],
  }));
  const [batched] = decodeBatch(encodeBatch([base(0, { value: value(), resume: [{ member: 1, hops: [0, 1], id: 'x1', value: plain(), source: 'a.default' }] })]));
  const own = (o: unknown, where: string) => {
    assert.ok(Object.hasOwn(o as object, '__proto__'), `${where}: "__proto__" is an own key`);
    assert.deepEqual(Object.keys(o as object), ['__proto__', 'n'], where);
    assert.equal(Object.getPrototypeOf(o), Object.prototype, `${where}: the prototype is untouched`);
    assert.equal((o as { admin?: unknown }).admin, undefined, `${where}: nothing inherited from it`);
  };
  for (const [where, got] of [['exit', unpackValue(decoded.exits[0]!.value as Uint8Array)], ['task record', batched!.value]] as const) {
    const v = got as ReturnType<typeof value>;
    own(v.top, `${where} top`);
    own(v.list[0], `${where} list`);
    own([...v.set][0], `${where} set`);
    assert.ok(v.tags instanceof Map, `${where}: the Map stays a Map`);
    own(v.tags.get('m'), `${where} map`);
  }
  for (const [where, got] of [['spilled step', decoded.exits[1]!.value], ['failure', decoded.failures[0]!.record!.value], ['resume step', batched!.resume![0]!.value]] as const) {
    own((got as ReturnType<typeof plain>).top, where);
    own((got as ReturnType<typeof plain>).list[0], `${where} list`);
  }
});
