import { WalrusError } from '../../errors/index.js';
import type { StateStoreView } from '../model/change-set.js';
import { MAX_EVENT_TIME, checkMaxAhead, checkNotAhead, readEventTime, type EventTimeExtractor, type TimedRecord } from './event-time.js';
import { checkWindowSpec, parseWindowKey, windowKey, windowsFor, type WindowSpec } from './windows.js';
import type { WindowResult } from './windowed-aggregation.js';

/** Options of {@link windowedAggregate}. */
export interface KeyedWindowOptions<V, A> {
  /** `tumbling(60_000)` or `hopping(60_000, 10_000)`. */
  windows: WindowSpec;
  /** Records are still accepted this long after a window's end (ms). @default 0 */
  graceMs?: number;
  /** `fromField('ts')`, `fromHeader('x-event-time')`, `fromRecordTimestamp()`, or `(record) => ms`. */
  eventTime: EventTimeExtractor<V>;
  init: () => A;
  aggregate: (aggregate: A, value: V, key: string) => A;
  /**
   * The stream time of a key that has none of its own (a new key, or one
   * whose entry was dropped): what its first record is judged late against.
   * @default -1 (nothing is late for a new key)
   */
  newKeyStreamTime?: number;
  /**
   * Refuse (non-retriable, so dead-lettered) a record whose event time is
   * more than this many ms ahead of the host's clock, before it moves the
   * key's stream time: one record stamped in the year 9999 would otherwise
   * close every window of its key and make the key's later records late.
   * @default undefined (no limit)
   */
  maxAheadMs?: number;
}

/** What one record did to its key's windows. */
export interface KeyedWindowStep<A> {
  /** Every window the record changed (`final: false`): emit them for results on every update. */
  updates: Array<WindowResult<A>>;
  /** Windows the record closed by moving its key's stream time (`final: true`): emit them for results on close. */
  closed: Array<WindowResult<A>>;
  /** Every window of the record had closed: send it to a late output, or throw `lateRecordError(...)` (DLQ). */
  late: boolean;
  /** The record's event time. */
  eventTime: number;
  /** The key's stream time after the record. */
  streamTime: number;
}

/** Where a key's stream time lives: under the key's own scope, after its windows (`~` sorts after digits). */
export function keyStreamTimeKey(key: string): string {
  return `${key}@~stream-time`;
}

/**
 * Windowed aggregation inside a processor (`ctx.state(name)` in a worker).
 *
 * Stream time is kept **per key** (the largest event time of the key's
 * records), so every decision — which windows a record updates, which it
 * closes, whether it is late — depends only on that key's records, which key
 * ordering delivers in source order. Results are therefore exact and the same
 * for any number of workers. The price: a key's window closes only when a
 * later record of the same key passes `end + grace`; a key that goes quiet
 * keeps its last window open (emit on update if every figure must go out at
 * once), unless something moves the key on with {@link advanceKeyTo} — the
 * runtime does that for `aggregate:` steps. For one stream time across all
 * keys, use the coordinator-side `WindowedAggregation` (docs/state.md).
 *
 * @example
 * const step = windowedAggregate(ctx.state('revenue'), record, {
 *   windows: tumbling(60_000), graceMs: 5_000, eventTime: fromField('createdAt'),
 *   init: () => 0, aggregate: (sum, order) => sum + order.totalEur,
 * });
 * if (step.late) ctx.emit('late', record.value);
 * for (const w of step.closed) ctx.emit('default', w);
 */
export function windowedAggregate<V, A>(state: StateStoreView, record: TimedRecord<V>, opts: KeyedWindowOptions<V, A>): KeyedWindowStep<A> {
  const key = record.key;
  if (typeof key !== 'string' || key === '') {
    throw new WalrusError('STATE_STORE_ERROR', `store "${state.name}": windows are per key and this record has none; set a key upstream`, {
      retriable: false, context: { store: state.name },
    });
  }
  const grace = opts.graceMs ?? 0;
  if (!Number.isSafeInteger(grace) || grace < 0) throw new WalrusError('CONFIG_INVALID', `graceMs must be a whole number of milliseconds >= 0, got ${String(opts.graceMs)}`);
  checkMaxAhead(opts.maxAheadMs);
  checkWindowSpec(opts.windows, 'windowedAggregate', state.name);
  const t = readEventTime(opts.eventTime, record);
  checkNotAhead(t, opts.maxAheadMs);
  const own = state.get<number>(keyStreamTimeKey(key));
  const before = own ?? opts.newKeyStreamTime ?? -1;
  const updates: Array<WindowResult<A>> = [];
  const windows = windowsFor(opts.windows, t);
  let lateWindows = 0;
  for (const w of windows) {
    if (w.end + grace <= before) { lateWindows += 1; continue; }
    const storeKey = windowKey(key, w.start);
    const current = state.get<A>(storeKey);
    const next = opts.aggregate(current === undefined ? opts.init() : current, record.value, key);
    state.put(storeKey, next);
    updates.push({ key, start: w.start, end: w.end, value: next, final: false });
  }
  const streamTime = Math.max(t, before);
  // A key with a window always has a stream time of its own.
  const closed = t > before || (own === undefined && updates.length > 0) ? moveKeyStreamTime<A>(state, key, streamTime, opts.windows, grace) : [];
  return { updates, closed, late: windows.length > 0 && lateWindows === windows.length, eventTime: t, streamTime };
}

/** Options of {@link advanceKeyTo}: the same windows and grace as the key's `windowedAggregate`. */
export interface AdvanceKeyOptions {
  windows: WindowSpec;
  /** @default 0 */
  graceMs?: number;
}

/** What {@link advanceKeyTo} did. */
export interface KeyAdvance<A> {
  /** Windows that closed (`final: true`), oldest first: emit them like a record's `closed`. */
  closed: Array<WindowResult<A>>;
  /** The key's stream time afterwards (never lower than before). */
  streamTime: number;
}

/**
 * Moves one key's stream time forward to `streamTime` without a record —
 * what the runtime does for a key that went quiet while other keys moved the
 * step's stream time on (docs/state.md, "Declarative aggregations in the
 * topology") — and closes every window of the key with `end + grace <=
 * streamTime`: each is returned (`final: true`) and deleted. A time at or
 * below the key's stream time changes nothing (stream time never goes back).
 * Later records of the key are late for the windows this closed, exactly as
 * if a record of the key with event time `streamTime` had come.
 *
 * @example
 * const { closed } = advanceKeyTo(ctx.state('sums'), key, streamTime, { windows: tumbling(60_000), graceMs: 5_000 });
 * for (const w of closed) ctx.emit('default', w);
 */
export function advanceKeyTo<A>(state: StateStoreView, key: string, streamTime: number, opts: AdvanceKeyOptions): KeyAdvance<A> {
  if (typeof key !== 'string' || key === '') {
    throw new WalrusError('STATE_STORE_ERROR', `store "${state.name}": windows are per key; advanceKeyTo needs one`, { retriable: false, context: { store: state.name } });
  }
  if (!Number.isSafeInteger(streamTime) || streamTime < 0) {
    throw new WalrusError('STATE_STORE_ERROR', `store "${state.name}": stream time must be epoch milliseconds (a whole number >= 0), got ${String(streamTime)}`, {
      retriable: false, context: { store: state.name, key },
    });
  }
  const grace = opts.graceMs ?? 0;
  if (!Number.isSafeInteger(grace) || grace < 0) throw new WalrusError('CONFIG_INVALID', `graceMs must be a whole number of milliseconds >= 0, got ${String(opts.graceMs)}`);
  checkWindowSpec(opts.windows, 'advanceKeyTo', state.name);
  const before = state.get<number>(keyStreamTimeKey(key)) ?? -1;
  if (streamTime <= before) return { closed: [], streamTime: before };
  return { closed: moveKeyStreamTime<A>(state, key, streamTime, opts.windows, grace), streamTime };
}

/**
 * Drops the key's stream time when the key has no window left and
 * `streamTime` is at least `retention` past it, and says whether it did. Its
 * later records then start from `newKeyStreamTime`: given a value at least as
 * far on as the key's stream time was, everything that was late for the key
 * stays late, and no window that closed can open again.
 */
export function forgetKeyStreamTime(state: StateStoreView, key: string, streamTime: number, retention: number): boolean {
  const own = state.get<number>(keyStreamTimeKey(key));
  if (typeof own !== 'number' || streamTime < own + retention) return false;
  if (state.range({ prefix: `${key}@`, end: keyStreamTimeKey(key) }).some((e) => parseWindowKey(e.key)?.key === key)) return false;
  state.delete(keyStreamTimeKey(key));
  return true;
}

/** Sets the key's stream time to `t` (above its current one) and closes (returns, deletes) its windows with `end + grace <= t`. */
function moveKeyStreamTime<A>(state: StateStoreView, key: string, t: number, windows: WindowSpec, grace: number): Array<WindowResult<A>> {
  const closed: Array<WindowResult<A>> = [];
  state.put(keyStreamTimeKey(key), t);
  // Only windows that close can be in the range: a window starting at or before `last` has `end + grace <= t`,
  // and window keys sort by start. The others (all the open windows of the key) are neither listed nor decoded.
  const last = t - grace - windows.size;
  if (last < 0) return closed;
  for (const { key: storeKey, value } of state.range<A>({ prefix: `${key}@`, end: windowKey(key, last + 1) })) {
    const parsed = parseWindowKey(storeKey);
    if (!parsed || parsed.key !== key) continue;
    const end = parsed.start + windows.size;
    if (end + grace > t) continue;
    closed.push({ key, start: parsed.start, end, value, final: true });
    state.delete(storeKey);
  }
  return closed;
}

/** A time as ISO-8601, or as ms where it is outside the Date range (a stream time an earlier version stored from a bad event time). */
const when = (ms: number): string => (ms >= 0 && ms <= MAX_EVENT_TIME ? new Date(ms).toISOString() : `${ms} ms`);

/** The error that dead-letters a late record (code `LATE_RECORD`, not retried), naming both times. */
export function lateRecordError(record: { id?: string; key?: string }, eventTime: number, streamTime: number, graceMs: number): WalrusError {
  return new WalrusError('LATE_RECORD',
    `record ${record.id ?? ''} of key "${record.key ?? ''}" is late: event time ${when(eventTime)} falls only in windows that closed (key stream time ${when(streamTime)}, grace ${graceMs} ms)`,
    { retriable: false, context: { key: record.key, eventTime, streamTime } });
}
