import { test } from 'node:test';
import assert from 'node:assert/strict';
import builtin, { compileAggregate, type AggregateResult } from '../../src/processor/builtin/aggregate.js';
import type { ProcessorContext, ProcessorRecord } from '../../src/processor/index.js';
import type { StateStoreView } from '../../src/state/index.js';
import type { AggregateSpec } from '../../src/topology/index.js';
import { WalrusError } from '../../src/errors/index.js';

// The built-in aggregate processor on its own (no workers): every op, the
// field reading rules and the errors a record can meet. The runtime tests
// (aggregate-step.test.ts, aggregate-step-restart.test.ts) run it for real.

/** A plain in-memory store view (what ctx.state gives a worker, minus the scope checks). */
function memoryView(): StateStoreView & { entries: Map<string, unknown> } {
  const entries = new Map<string, unknown>();
  return {
    name: 'agg', entries,
    get: <T>(key: string) => structuredClone(entries.get(key)) as T | undefined,
    put: (key, value) => void entries.set(key, structuredClone(value)),
    delete: (key) => void entries.delete(key),
    range: <T>(opts: { prefix?: string } = {}) => [...entries.keys()].sort()
      .filter((k) => opts.prefix === undefined || k.startsWith(opts.prefix))
      .map((key) => ({ key, value: structuredClone(entries.get(key)) as T })),
  };
}

function runner(spec: AggregateSpec, processor = `p-${Math.random()}`) {
  const view = memoryView();
  const emitted: Array<[string, unknown]> = [];
  const counted: Array<[string, number, Record<string, string> | undefined]> = [];
  const config = Object.freeze({ ...spec });
  let n = 0;
  const ctx = {
    processor, config, attempt: 1, signal: new AbortController().signal,
    emit: (output: string, value: unknown) => void emitted.push([output, value]),
    state: () => view,
    metrics: { increment: (name: string, by = 1, labels?: Record<string, string>) => void counted.push([name, by, labels]), observe: () => undefined },
  } as unknown as ProcessorContext<unknown>;
  return {
    view, emitted, counted,
    run(value: unknown, opts: { key?: string; timestamp?: number; headers?: Record<string, string> } = {}) {
      const record: ProcessorRecord = { id: `r${n++}`, key: 'key' in opts ? opts.key : 'k', value, headers: opts.headers ?? {}, timestamp: opts.timestamp ?? 0, source: 'in' };
      return builtin.process(record, ctx) as AggregateResult[] | undefined;
    },
  };
}

const running = (op: AggregateSpec['op'], field: string | null = 'v'): AggregateSpec => ({ store: 'agg', op, field, window: null, emit: 'update', late: 'dlq' });

test('every op as a running aggregate: value and count after each record', () => {
  const inputs = [5, -2, 7.5, 0];
  const expected: Record<string, unknown[]> = {
    count: [1, 2, 3, 4],
    sum: [5, 3, 10.5, 10.5],
    min: [5, -2, -2, -2],
    max: [5, 5, 7.5, 7.5],
    avg: [5, 1.5, 3.5, 2.625],
    first: [5, 5, 5, 5],
    last: [5, -2, 7.5, 0],
  };
  for (const [op, values] of Object.entries(expected)) {
    const r = runner(running(op as AggregateSpec['op'], op === 'count' ? null : 'v'));
    const got = inputs.map((v) => r.run({ v })![0]!);
    assert.deepEqual(got.map((x) => x.value), values, op);
    assert.deepEqual(got.map((x) => x.count), [1, 2, 3, 4], op);
    assert.deepEqual(got[3], { key: 'k', op, field: op === 'count' ? null : 'v', value: values[3], count: 4, window: null, final: false });
  }
});

test('first and last keep any JSON value of the field (null included); dotted paths read own properties only', () => {
  const last = runner(running('last', 'order.status'));
  assert.deepEqual(last.run({ order: { status: 'new' } })![0]!.value, 'new');
  assert.deepEqual(last.run({ order: { status: { code: 2 } } })![0]!.value, { code: 2 });
  assert.equal(last.run({ order: { status: null } })![0]!.value, null);
  assert.throws(() => last.run({ order: {} }), /record r3 of key "k" has no field "order.status"; expected a value/);
  const proto = runner(running('first', '__proto__'));
  assert.throws(() => proto.run({ a: 1 }), /has no field "__proto__"/);
  const arrays = runner(running('sum', 'items.1.price'));
  assert.equal(arrays.run({ items: [{ price: 1 }, { price: 2.5 }] })![0]!.value, 2.5);
});

test('numeric ops dead-letter a missing or non-numeric field (NON_RETRIABLE), leaving the state as it was', () => {
  const sum = runner(running('sum', 'amount'));
  sum.run({ amount: 3 });
  for (const bad of [{}, { amount: '4' }, { amount: null }, { amount: Number.NaN }, 'text', null]) {
    const error = (() => { try { sum.run(bad); } catch (e) { return e; } })() as WalrusError;
    assert.ok(error instanceof WalrusError, JSON.stringify(bad));
    assert.equal(error.code, 'NON_RETRIABLE');
    assert.equal(error.retriable, false);
    assert.match(error.message, /aggregate step "p-[\d.]+" \(sum of "amount"\): record r\d+ of key "k" has .*; expected a finite number/);
  }
  assert.deepEqual(sum.view.entries.get('k'), { count: 1, value: 3 });
});

test('a record without a key is dead-lettered with how to give it one', () => {
  const r = runner(running('count', null), 'per-customer');
  for (const key of [undefined, '']) {
    assert.throws(() => r.run({}, { key }), (e: WalrusError) => e.code === 'NON_RETRIABLE' &&
      e.message.includes('aggregate step "per-customer": record r') && e.message.includes('has no key') &&
      e.message.includes("ctx.emit('default', value, { key: value.customerId })"));
  }
  assert.equal(r.view.entries.size, 0);
});

test('windows: event time from the record timestamp, close and update emission, late records to an output, dropped or dead-lettered', () => {
  const spec = (emit: 'close' | 'update', late: AggregateSpec['late']): AggregateSpec => ({
    store: 'agg', op: 'sum', field: 'n', emit, late,
    window: { kind: 'tumbling', size: 10_000, advance: 10_000, grace: 1_000, time: 'record', maxAhead: null },
  });
  const close = runner(spec('close', { output: 'late' }));
  assert.deepEqual(close.run({ n: 1 }, { timestamp: 1_000 }), []);
  assert.deepEqual(close.run({ n: 2 }, { timestamp: 10_500 }), []);           // [0, 10 s) still within grace
  const closed = close.run({ n: 4 }, { timestamp: 11_000 })!;                  // 10 + 1 <= 11: closes [0, 10 s)
  assert.deepEqual(closed, [{ key: 'k', op: 'sum', field: 'n', value: 1, count: 1, window: { start: '1970-01-01T00:00:00.000Z', end: '1970-01-01T00:00:10.000Z' }, final: true }]);
  assert.equal(close.run({ n: 8 }, { timestamp: 9_999 }), undefined);          // late
  assert.deepEqual(close.emitted, [['late', { n: 8 }]]);
  assert.deepEqual(close.counted.map(([, by, labels]) => [by, labels]), [[1, { late: 'output' }]], 'the late record counted');
  assert.deepEqual(close.view.entries.get('k@0000000000010000'), { count: 2, value: 6 });

  const update = runner(spec('update', 'drop'));
  assert.deepEqual(update.run({ n: 1 }, { timestamp: 1_000 })!.map((x) => [x.value, x.final]), [[1, false]]);
  assert.deepEqual(update.run({ n: 2 }, { timestamp: 12_000 })!.map((x) => [x.window!.start, x.value, x.final]), [
    ['1970-01-01T00:00:00.000Z', 1, true], ['1970-01-01T00:00:10.000Z', 2, false],
  ]);
  assert.equal(update.run({ n: 5 }, { timestamp: 2_000 }), undefined);          // late, dropped
  assert.deepEqual(update.emitted, []);
  assert.deepEqual(update.counted.map(([, by, labels]) => [by, labels]), [[1, { late: 'drop' }]], 'the dropped late record counted');

  const dlq = runner(spec('close', 'dlq'));
  dlq.run({ n: 1 }, { timestamp: 20_000 });
  assert.throws(() => dlq.run({ n: 1 }, { timestamp: 1_000 }), (e: WalrusError) => e.code === 'LATE_RECORD' && e.retriable === false);
});

test('event time from a header, epoch ms or ISO-8601; an unreadable one is dead-lettered', () => {
  const r = runner({ store: 'agg', op: 'count', field: null, emit: 'update', late: 'dlq', window: { kind: 'hopping', size: 60_000, advance: 30_000, grace: 0, time: { header: 'x-ts' }, maxAhead: null } });
  assert.deepEqual(r.run({}, { headers: { 'x-ts': '45000' } })!.map((x) => x.window!.start), ['1970-01-01T00:00:00.000Z', '1970-01-01T00:00:30.000Z']);
  assert.deepEqual(r.run({}, { headers: { 'x-ts': '1970-01-01T00:00:50.000Z' } })!.map((x) => x.count), [2, 2]);
  assert.throws(() => r.run({}, { headers: {} }), /cannot read an event time from the header "x-ts"/);
});

test('a config that did not come from the topology fails at init with CONFIG_INVALID', () => {
  const bad: Array<[unknown, RegExp]> = [
    [null, /config is not an aggregate spec/],
    [{ ...running('sum'), op: 'median' }, /unknown op "median"/],
    [{ ...running('sum'), field: null }, /op "sum" needs a field/],
    [{ ...running('count', null), emit: 'close' }, /emit: close needs a window/],
    [{ ...running('count', null), window: { kind: 'hopping', size: 1_000, advance: 2_000, grace: 0, time: 'record' } }, /must not exceed its size/],
    [{ ...running('count', null), window: { kind: 'tumbling', size: 1_000, advance: 1_000, grace: 0, time: 'wallclock' } }, /time must be "record", \{ field \} or \{ header \}/],
  ];
  for (const [config, message] of bad) {
    assert.throws(() => compileAggregate('p', config), (e: WalrusError) => e.code === 'CONFIG_INVALID' && message.test(e.message), String(message));
  }
  assert.throws(() => builtin.init!({ processor: 'p', config: { op: 'median' } } as never), /CONFIG_INVALID|unknown op/);
});

test('maxAhead: a record stamped far ahead of the clock is refused before it moves stream time, so the records after it still count', () => {
  const now = Math.floor(Date.now() / 60_000) * 60_000; // the start of this minute: now and now + 1 share a window
  const spec = (maxAhead: number | null): AggregateSpec => ({
    store: 'agg', op: 'count', field: null, emit: 'close', late: 'dlq',
    window: { kind: 'tumbling', size: 60_000, advance: 60_000, grace: 0, time: 'record', maxAhead },
  });
  const guarded = runner(spec(3_600_000));
  assert.deepEqual(guarded.run({}, { timestamp: now }), [], 'a record of now opens its window');
  assert.throws(() => guarded.run({}, { timestamp: Date.UTC(9999, 0, 1) }), (error: unknown) => {
    assert.ok(error instanceof WalrusError && !error.retriable, 'refused for good: dead-lettered, not retried');
    assert.match(error.message, /^event time 9999-01-01T00:00:00\.000Z is [\d.]+ years ahead of this host's clock \(.+\), more than the 3600000 ms allowed \(maxAhead\)/);
    return true;
  });
  assert.deepEqual(guarded.run({}, { timestamp: now + 1 }), [], 'the next record of now is not late: its window is still open');
  const closed = guarded.run({}, { timestamp: now + 40 * 60_000 })!;
  assert.equal(closed[0]!.count, 2, 'the window of now closes when stream time passes it, with both of its records, not the refused one');

  // Without the limit (the default), the same record closes the window at once and the next record is late.
  const open = runner(spec(null));
  open.run({}, { timestamp: now });
  assert.equal(open.run({}, { timestamp: Date.UTC(9999, 0, 1) })![0]!.count, 1, 'the window of now closes early, with one record');
  assert.throws(() => open.run({}, { timestamp: now + 1 }), /is late/);
});
