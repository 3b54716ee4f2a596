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

/** Fixed-size, non-overlapping windows: each record lands in exactly one. */
export function tumbling(sizeMs: number): WindowSpec {
  checkPositive('tumbling window size', sizeMs);
  return { size: sizeMs, advance: sizeMs };
}

/** Fixed-size windows starting every `advanceMs`: a record lands in `ceil(size / advance)` windows. */
export function hopping(sizeMs: number, advanceMs: number): WindowSpec {
  checkPositive('hopping window size', sizeMs);
  checkPositive('hopping window advance', advanceMs);
  if (advanceMs > sizeMs) {
    throw new WalrusError('CONFIG_INVALID', `hopping window advance (${advanceMs} ms) must not exceed its size (${sizeMs} ms); records between windows would be lost`);
  }
  return { size: sizeMs, advance: advanceMs };
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
