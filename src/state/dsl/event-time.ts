import { WalrusError } from '../../errors/index.js';

/** What an event-time extractor sees of a record. */
export interface TimedRecord<V> {
  key?: string;
  value: V;
  headers: Record<string, string>;
  /** When the record was produced (ms since the epoch). */
  timestamp: number;
}

/** Returns a record's event time in ms since the epoch. */
export type EventTimeExtractor<V> = (record: TimedRecord<V>) => number;

/** The latest event time there is: the end of the Date range, +275760-09-13T00:00:00.000Z (8.64e15 ms). */
export const MAX_EVENT_TIME = 8.64e15;

/**
 * Event time from a value field (dotted path). Accepts epoch milliseconds or
 * an ISO-8601 string (a date-time without an offset is UTC).
 * @example fromField('order.createdAt')
 */
export function fromField<V>(path: string): EventTimeExtractor<V> {
  const parts = path.split('.');
  return (record) => {
    let node: unknown = record.value;
    for (const part of parts) {
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined;
    }
    return toEpochMs(node, `field "${path}"`);
  };
}

/** Event time from a header (epoch milliseconds or ISO-8601). */
export function fromHeader<V>(name: string): EventTimeExtractor<V> {
  return (record) => toEpochMs(record.headers[name], `header "${name}"`);
}

/** Event time = the time the record was produced. */
export function fromRecordTimestamp<V>(): EventTimeExtractor<V> {
  return (record) => toEpochMs(record.timestamp, 'record timestamp');
}

/** An ISO-8601 date-time without an offset, which `Date.parse` would read in the host's time zone. */
const LOCAL_DATE_TIME = /^(?:[+-]\d{6}|\d{4})-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/;

/** `Date.parse`, except that an ISO-8601 date-time without an offset is UTC on every host (NaN when it is no date). */
export function parseDateUtc(text: string): number {
  return Date.parse(LOCAL_DATE_TIME.test(text) ? `${text}Z` : text);
}

function toEpochMs(raw: unknown, where: string): number {
  let ms: number;
  if (typeof raw === 'number') ms = raw;
  else if (typeof raw === 'string' && /^\d+$/.test(raw)) ms = Number(raw);
  else if (typeof raw === 'string') ms = parseDateUtc(raw);
  else ms = Number.NaN;
  return checkEventTime(Math.floor(ms), `the ${where}`, raw);
}

/** Calls an event-time extractor (a built-in or the caller's own function) and checks what it returned with {@link checkEventTime}. */
export function readEventTime<V>(extractor: EventTimeExtractor<V>, record: TimedRecord<V>): number {
  const raw = extractor(record);
  return checkEventTime(Math.floor(raw), 'the eventTime extractor\'s result', raw);
}

/**
 * Throws a non-retriable `STATE_STORE_ERROR` when event time `t` is more than
 * `maxAheadMs` ahead of this host's clock (`now`): such a record (a wrong
 * clock, a corrupt year) would move stream time forward and close every open
 * window early, making the records after it late. Undefined `maxAheadMs`: no
 * limit (the default, as in Kafka Streams).
 */
export function checkNotAhead(t: number, maxAheadMs: number | undefined, now = Date.now()): void {
  if (maxAheadMs === undefined || t <= now + maxAheadMs) return;
  throw new WalrusError('STATE_STORE_ERROR', `event time ${new Date(t).toISOString()} is ${formatAhead(t - now)} ahead of this host's clock (${new Date(now).toISOString()}), more than the ${maxAheadMs} ms allowed (maxAhead): it would move stream time forward and close every open window early, so the record is refused; check the clock that stamped it, or raise maxAhead`, {
    retriable: false,
    context: { eventTime: t, maxAheadMs },
  });
}

function formatAhead(ms: number): string {
  const units: Array<[number, string]> = [[365.25 * 86_400_000, 'years'], [86_400_000, 'days'], [3_600_000, 'hours'], [60_000, 'minutes'], [1_000, 'seconds']];
  for (const [size, name] of units) if (ms >= size) return `${(ms / size).toFixed(1)} ${name}`;
  return `${ms} ms`;
}

/** Checks a `maxAheadMs` option (undefined, or whole milliseconds >= 0). */
export function checkMaxAhead(maxAheadMs: number | undefined): void {
  if (maxAheadMs !== undefined && (!Number.isSafeInteger(maxAheadMs) || maxAheadMs < 0)) {
    throw new WalrusError('CONFIG_INVALID', `maxAheadMs must be a whole number of milliseconds >= 0, got ${String(maxAheadMs)}`);
  }
}

/**
 * Returns `ms` when it is an event time — whole epoch milliseconds from
 * 1970-01-01 to {@link MAX_EVENT_TIME}, so every window, stream time and ISO
 * date made from it is valid — else throws a non-retriable
 * `STATE_STORE_ERROR` naming `where` and the value read (`raw`).
 */
export function checkEventTime(ms: number, where: string, raw: unknown = ms): number {
  if (Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_EVENT_TIME) return ms;
  const rule = !Number.isFinite(ms) ? 'expected epoch milliseconds or an ISO-8601 date'
    : ms < 0 ? 'that is before 1970-01-01T00:00:00Z, and event times start at the epoch'
    : `that is after ${new Date(MAX_EVENT_TIME).toISOString()}, the latest date there is; expected epoch milliseconds (not micro- or nanoseconds)`;
  const got = typeof raw === 'number' ? String(raw) : JSON.stringify(raw) ?? String(raw);
  throw new WalrusError('STATE_STORE_ERROR', `cannot read an event time from ${where}: got ${got}; ${rule}`, {
    retriable: false,
    context: { where, value: got },
  });
}
