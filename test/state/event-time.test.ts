import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  KeyValueStore, WindowedAggregation, fromField, fromHeader, fromRecordTimestamp, lateRecordError, tumbling, windowedAggregate, windowKey,
  type EventTimeExtractor,
} from '../../src/state/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { tempDir } from './helpers.js';

// Event times are whole epoch milliseconds within the Date range
// (1970-01-01 to +275760-09-13, 8.64e15 ms) or ISO-8601 strings (UTC when
// they carry no offset, whatever the host's time zone). Anything else fails
// the record where the time is read — a non-retriable STATE_STORE_ERROR
// naming the field and the value — before a window, a window key or a
// stream time is made from it.

const H = 3_600_000;
const rec = <V>(value: V, headers: Record<string, string> = {}, timestamp = 0) => ({ key: 'k', value, headers, timestamp });

/** Asserts `fn` throws a non-retriable STATE_STORE_ERROR whose message matches `message`. */
function refuses(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof WalrusError, String(error));
    assert.equal(error.code, 'STATE_STORE_ERROR');
    assert.equal(error.retriable, false);
    assert.match(error.message, message);
    return true;
  });
}

test('event times outside the Date range are refused where they are read, naming the field and the value', () => {
  const ts = fromField<{ ts: unknown }>('ts');
  refuses(() => ts(rec({ ts: 1767225600000000000 })), /from the field "ts": got 1767225600000000000; that is after \+275760-09-13T00:00:00\.000Z, the latest date there is; expected epoch milliseconds \(not micro- or nanoseconds\)/);
  refuses(() => ts(rec({ ts: '1767225600000000000' })), /field "ts": got "1767225600000000000"; that is after/);
  refuses(() => ts(rec({ ts: 9e15 })), /got 9000000000000000; that is after/);
  refuses(() => fromHeader('x-time')(rec(null, { 'x-time': '8640000000000001' })), /header "x-time": got "8640000000000001"; that is after/);
  refuses(() => fromRecordTimestamp()(rec(null, {}, 1e300)), /record timestamp: got 1e\+300; that is after/);
  refuses(() => ts(rec({ ts: Number.POSITIVE_INFINITY })), /got Infinity; expected epoch milliseconds or an ISO-8601 date/);
  // The ends of the range are event times.
  assert.equal(ts(rec({ ts: 8.64e15 })), 8.64e15);
  assert.equal(ts(rec({ ts: '+275760-09-13T00:00:00Z' })), 8.64e15);
  assert.equal(ts(rec({ ts: 0 })), 0);
});

test('an event time before 1970 is refused with that rule, not as an unreadable date', () => {
  const ts = fromField<{ ts: unknown }>('ts');
  refuses(() => ts(rec({ ts: '1969-12-31T23:59:59Z' })), /field "ts": got "1969-12-31T23:59:59Z"; that is before 1970-01-01T00:00:00Z, and event times start at the epoch$/);
  refuses(() => ts(rec({ ts: -1 })), /got -1; that is before 1970-01-01/);
  refuses(() => ts(rec({ ts: 'soon' })), /got "soon"; expected epoch milliseconds or an ISO-8601 date$/);
});

test('a windowed record with a bad event time changes nothing: no window, no window key, no stream time', async (t) => {
  const { dir, cleanup } = await tempDir();
  const store = await KeyValueStore.open({ dir, name: 's', fsync: 'never' });
  t.after(async () => { await store.close(); await cleanup(); });
  const count = { windows: tumbling(H), init: () => 0, aggregate: (n: number) => n + 1 };
  const custom = (ms: number): EventTimeExtractor<unknown> => () => ms;

  // Worker side (windowedAggregate): the built-in extractors and one of the caller's own.
  const cs = store.changeSet('a');
  const step = (value: unknown, eventTime: EventTimeExtractor<unknown>) => windowedAggregate(cs, { ...rec(value), key: 'a' }, { ...count, eventTime });
  refuses(() => step({ ts: 1767225600000000000 }, fromField('ts')), /field "ts"/);
  refuses(() => step({}, custom(1e300)), /from the eventTime extractor's result: got 1e\+300; that is after/);
  refuses(() => step({}, custom(-5)), /eventTime extractor's result: got -5; that is before 1970-01-01/);
  refuses(() => step({}, custom(Number.NaN)), /eventTime extractor's result: got NaN; expected epoch milliseconds/);
  // In the range, but its window would end after it: year 275760 in a 1-hour window.
  refuses(() => step({ ts: '+275760-09-13T00:00:00Z' }, fromField('ts')), /event time 8640000000000000 falls in the window \[8640000000000000, 8640000003600000\) ms, which ends after \+275760-09-13T00:00:00\.000Z/);
  assert.deepEqual(cs.range({ prefix: 'a@' }), [], 'nothing was written');
  refuses(() => windowKey('a', 1e16), /window start 10000000000000000 is not epoch milliseconds within the Date range, so it cannot be a window key/);

  // Coordinator side (WindowedAggregation).
  const agg = new WindowedAggregation<{ ts: number }, number>(store, { ...count, eventTime: fromField('ts') });
  refuses(() => agg.process({ ...rec({ ts: 1767225600000000000 }), key: 'a' }), /field "ts"/);
  refuses(() => agg.process({ ...rec({ ts: 8.64e15 }), key: 'a' }), /falls in the window/);
  assert.equal(agg.streamTime, -1);
  assert.equal(agg.openWindows, 0);
  assert.deepEqual(store.range(), []);
});

test('lateRecordError names a stream time outside the Date range (one an earlier version stored) instead of failing on it', () => {
  const error = lateRecordError({ id: '7:0', key: 'a' }, 1767236400000, 1767225600000000000, 0);
  assert.equal(error.code, 'LATE_RECORD');
  assert.match(error.message, /event time 2026-01-01T03:00:00\.000Z falls only in windows that closed \(key stream time 1767225600000000000 ms, grace 0 ms\)/);
});

const SRC = fileURLToPath(new URL('../../src/state/index.ts', import.meta.url));

/** What `fromField('t')` reads from each of `values` in a Node.js process whose time zone is `tz`. */
function readIn(tz: string, values: string[]): number[] {
  const code = `const { fromField } = await import(${JSON.stringify(SRC)});
console.log(JSON.stringify(${JSON.stringify(values)}.map((t) => fromField('t')({ value: { t }, headers: {}, timestamp: 0 }))));`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env: { ...process.env, TZ: tz }, encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout) as number[];
}

test('an ISO-8601 date-time without an offset is UTC on every host, whatever its time zone', () => {
  const values = ['2026-06-01T10:30:00', '2026-06-01T10:30', '2026-06-01 10:30:00.250', '2026-06-01T10:30:00+02:00', '2026-06-01'];
  const expected = [Date.UTC(2026, 5, 1, 10, 30), Date.UTC(2026, 5, 1, 10, 30), Date.UTC(2026, 5, 1, 10, 30, 0, 250), Date.UTC(2026, 5, 1, 8, 30), Date.UTC(2026, 5, 1)];
  for (const tz of ['America/New_York', 'Asia/Tokyo']) assert.deepEqual(readIn(tz, values), expected, `TZ=${tz}`);
});

test('a test case file\'s timestamps and startTime are read the same way (walrus-stream test gives the same windows on every host)', () => {
  const CASES = fileURLToPath(new URL('../../src/testing/cases/case-file.ts', import.meta.url));
  const code = `const { toEpoch } = await import(${JSON.stringify(CASES)});
console.log(JSON.stringify(['2026-06-01T10:30:00', '2026-06-01T10:30:00Z', 1780309800000].map((t) => toEpoch(t))));`;
  for (const tz of ['America/New_York', 'Asia/Tokyo']) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env: { ...process.env, TZ: tz }, encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), [Date.UTC(2026, 5, 1, 10, 30), Date.UTC(2026, 5, 1, 10, 30), 1780309800000], `TZ=${tz}`);
  }
});
