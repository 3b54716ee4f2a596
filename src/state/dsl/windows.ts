import { WalrusError } from '../../errors/index.js';
import { SCOPE_SEPARATOR } from '../model/names.js';
import { MAX_EVENT_TIME } from './event-time.js';

/** A window definition on event time, in milliseconds. Tumbling windows have `advance === size`. */
export interface WindowSpec {
  readonly size: number;
  readonly advance: number;
}

/** One window: `[start, end)`. */
export interface TimeWindow {
  start: number;
  end: number;
}

/**
 * Most windows one record may fall in (`ceil(size / advance)` of a hopping
 * window). Each is a store entry the record writes: `hopping(86_400_000, 1)`
 * would make every record build 86 million windows and run out of memory.
 * (An `aggregate:` step in a topology allows 100.)
 */
export const MAX_WINDOWS_PER_RECORD = 10_000;

/** Fixed-size, non-overlapping windows: each record lands in exactly one. */
export function tumbling(sizeMs: number): WindowSpec {
  checkPositive('tumbling window size', sizeMs);
  return { size: sizeMs, advance: sizeMs };
}

/** Fixed-size windows starting every `advanceMs`: a record lands in `ceil(size / advance)` windows (at most {@link MAX_WINDOWS_PER_RECORD}). */
export function hopping(sizeMs: number, advanceMs: number): WindowSpec {
  checkPositive('hopping window size', sizeMs);
  checkPositive('hopping window advance', advanceMs);
  checkShape(sizeMs, advanceMs, 'hopping window');
  return { size: sizeMs, advance: advanceMs };
}

/**
 * Checks a window spec that did not come from `tumbling()` or `hopping()` —
 * an object literal such as `{ size: 60_000, advance: 0 }`, or a spec built
 * from configuration. Without it a zero, `NaN` or over-size advance put each
 * record in no window at all (counted nowhere, and not reported late), and a
 * negative one made `windowsFor` loop until the process ran out of memory.
 */
export function checkWindowSpec(spec: WindowSpec, caller: string, store: string): void {
  // The common case costs a few comparisons (windowedAggregate runs this per record); messages only on failure.
  if (typeof spec === 'object' && spec !== null && Number.isSafeInteger(spec.size) && Number.isSafeInteger(spec.advance)
    && spec.advance > 0 && spec.advance <= spec.size && spec.size <= spec.advance * MAX_WINDOWS_PER_RECORD) return;
  const where = `${caller} on store "${store}"`;
  if (typeof spec !== 'object' || spec === null) {
    throw new WalrusError('CONFIG_INVALID', `${where}: windows must be tumbling(sizeMs) or hopping(sizeMs, advanceMs), got ${spec === null ? 'null' : typeof spec}`);
  }
  checkPositive(`${where}: window size`, spec.size);
  checkPositive(`${where}: window advance`, spec.advance);
  checkShape(spec.size, spec.advance, `${where}: window`);
}

function checkShape(size: number, advance: number, what: string): void {
  if (advance > size) {
    throw new WalrusError('CONFIG_INVALID', `${what} advance (${advance} ms) must not exceed its size (${size} ms); records between windows would be lost`);
  }
  if (Math.ceil(size / advance) > MAX_WINDOWS_PER_RECORD) {
    throw new WalrusError('CONFIG_INVALID', `${what} of ${size} ms every ${advance} ms puts each record in ${Math.ceil(size / advance)} windows, ` +
      `more than ${MAX_WINDOWS_PER_RECORD}: each is a store entry every record writes. Use a larger advance`);
  }
}

function checkPositive(what: string, ms: number): void {
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new WalrusError('CONFIG_INVALID', `${what} must be a positive whole number of milliseconds, got ${String(ms)}`);
  }
}

/**
 * The windows containing event time `t`, oldest first. Windows are aligned to the epoch; none starts before 0,
 * and none may end after the latest date there is ({@link MAX_EVENT_TIME}): a non-retriable `STATE_STORE_ERROR`.
 */
export function windowsFor(spec: WindowSpec, t: number): TimeWindow[] {
  const out: TimeWindow[] = [];
  const last = Math.floor(t / spec.advance) * spec.advance;
  if (last + spec.size > MAX_EVENT_TIME) {
    throw new WalrusError('STATE_STORE_ERROR', `event time ${t} falls in the window [${last}, ${last + spec.size}) ms, which ends after ${new Date(MAX_EVENT_TIME).toISOString()}, the latest date there is; check where the event time is read from`, {
      retriable: false, context: { eventTime: t },
    });
  }
  for (let start = last; start > t - spec.size && start >= 0; start -= spec.advance) {
    out.push({ start, end: start + spec.size });
  }
  return out.reverse();
}

/** Zero-padded so window keys of one record key sort by start time. */
const START_DIGITS = 16;

/** Store key of a window: `<key>@<start, 16 digits>`. */
export function windowKey(key: string, start: number): string {
  if (!Number.isSafeInteger(start) || start < 0 || start > MAX_EVENT_TIME) {
    throw new WalrusError('STATE_STORE_ERROR', `window start ${start} is not epoch milliseconds within the Date range, so it cannot be a window key`, { retriable: false });
  }
  return `${key}${SCOPE_SEPARATOR}${String(start).padStart(START_DIGITS, '0')}`;
}

/** Inverse of `windowKey`; undefined for keys that are not window keys. */
export function parseWindowKey(storeKey: string): { key: string; start: number } | undefined {
  const at = storeKey.length - START_DIGITS - 1;
  if (at < 1 || storeKey[at] !== SCOPE_SEPARATOR) return undefined;
  const digits = storeKey.slice(at + 1);
  if (!/^\d{16}$/.test(digits)) return undefined;
  return { key: storeKey.slice(0, at), start: Number(digits) };
}
