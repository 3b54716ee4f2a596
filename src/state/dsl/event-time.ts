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

/**
 * Event time from a value field (dotted path). Accepts epoch milliseconds or
 * an ISO-8601 string.
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

function toEpochMs(raw: unknown, where: string): number {
  let ms: number;
  if (typeof raw === 'number') ms = raw;
  else if (typeof raw === 'string' && /^\d+$/.test(raw)) ms = Number(raw);
  else if (typeof raw === 'string') ms = Date.parse(raw);
  else ms = Number.NaN;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new WalrusError('STATE_STORE_ERROR', `cannot read an event time from the ${where}: got ${JSON.stringify(raw) ?? String(raw)}; expected epoch milliseconds or an ISO-8601 date`, {
      retriable: false,
      context: { where },
    });
  }
  return Math.floor(ms);
}
