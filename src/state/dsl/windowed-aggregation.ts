import { WalrusError } from '../../errors/index.js';
import type { KeyValueStore } from '../store/key-value-store.js';
import type { ChangeSet } from '../model/change-set.js';
import type { StagedChange } from '../model/staged-change.js';
import { checkMaxAhead, checkNotAhead, readEventTime, type EventTimeExtractor, type TimedRecord } from './event-time.js';
import { checkWindowSpec, parseWindowKey, windowKey, windowsFor, type WindowSpec } from './windows.js';
import { WindowIndex } from './window-index.js';

/** Where the aggregation keeps its stream time (max event time seen); `\0` sorts before every record key. */
export const STREAM_TIME_KEY = '\u0000stream-time';

export interface WindowedAggregationOptions<V, A> {
  /** Window sizes: `tumbling(60_000)` or `hopping(60_000, 10_000)`. */
  windows: WindowSpec;
  /** How long after a window's end records are still accepted (ms). A window closes when stream time reaches `end + grace`. @default 0 */
  graceMs?: number;
  /** Event time of a record: `fromField('ts')`, `fromHeader('x-event-time')`, `fromRecordTimestamp()`. */
  eventTime: EventTimeExtractor<V>;
  init: () => A;
  aggregate: (aggregate: A, value: V, key: string) => A;
  /** Also report every updated window (not only closed ones). @default false */
  emitOnUpdate?: boolean;
  /** Refuse a record whose event time is more than this many ms ahead of the host's clock, before it moves stream time (see `windowedAggregate`). @default undefined (no limit) */
  maxAheadMs?: number;
}

/** A window's result. `final` is true when the window closed (it will not change again). */
export interface WindowResult<A> {
  key: string;
  start: number;
  end: number;
  value: A;
  final: boolean;
}

export interface WindowStep<A> {
  /** The record's change (window updates, closes, stream time), staged: commit it when the record is released. */
  staged: StagedChange;
  /** Windows updated by this record (only with `emitOnUpdate`). */
  updates: Array<WindowResult<A>>;
  /** Windows this record closed, by advancing stream time: emit them as the record's outputs. */
  closed: Array<WindowResult<A>>;
  /** True when every window of the record had already closed: route the record to the late output / DLQ. */
  late: boolean;
  /** Windows of the record that had closed (for hopping windows some may be late and others not). */
  lateWindows: number;
  /** Stream time after this record. */
  streamTime: number;
}

/**
 * Per-key windowed aggregation on event time with a grace period.
 *
 * Runs next to the store (in the coordinator): closing windows is a
 * cross-key decision driven by the stream time of the whole input, so it
 * cannot be made inside a worker that only sees one key. Window state lives
 * in the store under `key@<start>`; closed windows are deleted in the same
 * change as the record that closed them, so a crash either keeps both the
 * record and the open window (the record is re-processed and closes it
 * again) or neither.
 */
export class WindowedAggregation<V, A> {
  readonly store: KeyValueStore;
  #opts: WindowedAggregationOptions<V, A>;
  #grace: number;
  #index = new WindowIndex();
  #streamTime: number;

  constructor(store: KeyValueStore, opts: WindowedAggregationOptions<V, A>) {
    this.store = store;
    this.#opts = opts;
    this.#grace = opts.graceMs ?? 0;
    if (!Number.isSafeInteger(this.#grace) || this.#grace < 0) {
      throw new WalrusError('CONFIG_INVALID', `graceMs must be a whole number of milliseconds >= 0, got ${String(opts.graceMs)}`);
    }
    checkMaxAhead(opts.maxAheadMs);
    checkWindowSpec(opts.windows, 'WindowedAggregation', store.name);
    this.#streamTime = store.get<number>(STREAM_TIME_KEY) ?? -1;
    // Rebuild the open-window index from the store (after a restart or a restore).
    for (const { key } of store.range({ start: '\u0001' })) {
      const parsed = parseWindowKey(key);
      if (parsed) this.#index.add(parsed.start + opts.windows.size, key);
    }
  }

  /** Max event time seen (-1 before the first record). */
  get streamTime(): number {
    return this.#streamTime;
  }

  /** Number of open windows. */
  get openWindows(): number {
    return this.#index.size;
  }

  /**
   * Applies one record. `covers` are the record ids the change covers (see
   * `KeyValueStore.hasApplied`). Calls for one store must not interleave with
   * other writers of that store.
   */
  process(record: TimedRecord<V> & { key: string }, covers: readonly string[] = []): WindowStep<A> {
    if (typeof record.key !== 'string' || record.key === '') {
      throw new WalrusError('STATE_STORE_ERROR', `store "${this.store.name}": windows are per key and this record has none; set a key when producing or re-key the stream in an earlier processor`, {
        retriable: false, context: { store: this.store.name },
      });
    }
    const t = readEventTime(this.#opts.eventTime, record);
    checkNotAhead(t, this.#opts.maxAheadMs);
    const cs = this.store.changeSet();
    const updates: Array<WindowResult<A>> = [];
    let lateWindows = 0;
    const windows = windowsFor(this.#opts.windows, t);
    for (const w of windows) {
      if (w.end + this.#grace <= this.#streamTime) {
        lateWindows++;
        continue;
      }
      const storeKey = windowKey(record.key, w.start);
      const current = cs.get<A>(storeKey);
      if (current === undefined) this.#index.add(w.end, storeKey);
      const next = this.#opts.aggregate(current === undefined ? this.#opts.init() : current, record.value, record.key);
      cs.put(storeKey, next);
      if (this.#opts.emitOnUpdate) updates.push({ key: record.key, start: w.start, end: w.end, value: next, final: false });
    }
    const closed = this.#advance(cs, t);
    const staged = this.store.stage(cs, covers);
    return { staged, updates, closed, late: windows.length > 0 && lateWindows === windows.length, lateWindows, streamTime: this.#streamTime };
  }

  /**
   * Moves stream time forward without a record — e.g. on a wall-clock timer
   * when input is idle, or to `Number.MAX_SAFE_INTEGER` at the end of a
   * bounded input — closing the windows it passes. Stream time never goes
   * back: a smaller `time` closes nothing.
   */
  advanceTo(time: number, covers: readonly string[] = []): { staged: StagedChange; closed: Array<WindowResult<A>>; streamTime: number } {
    if (!Number.isSafeInteger(time)) {
      throw new WalrusError('CONFIG_INVALID', `advanceTo expects epoch milliseconds as a safe integer, got ${String(time)}`);
    }
    const cs = this.store.changeSet();
    const closed = this.#advance(cs, time);
    return { staged: this.store.stage(cs, covers), closed, streamTime: this.#streamTime };
  }

  /** Raises stream time to `t` (if higher) and closes, in `cs`, every window it passed. */
  #advance(cs: ChangeSet, t: number): Array<WindowResult<A>> {
    const closed: Array<WindowResult<A>> = [];
    if (t <= this.#streamTime) return closed;
    this.#streamTime = t;
    cs.put(STREAM_TIME_KEY, t);
    for (const { storeKey } of this.#index.takeEndingBy(t - this.#grace)) {
      const parsed = parseWindowKey(storeKey)!;
      const value = cs.get<A>(storeKey);
      if (value === undefined) continue;
      closed.push({ key: parsed.key, start: parsed.start, end: parsed.start + this.#opts.windows.size, value, final: true });
      cs.delete(storeKey);
    }
    return closed;
  }
}
