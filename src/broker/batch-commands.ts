import { isUtf8 } from 'node:buffer';
import { parseLengthPrefixedList, readDecimal } from '../protocol/batch.js';
import type { Accept, LeaseBook } from './leases.js';
import { EMPTY_FRAME, batchGetFrame, decimalDigits, errFrame, frameOf, unknownTopicFrame } from './replies.js';
import type { LogStore, TopicLog } from './store/types.js';

/**
 * The BATCH_PUT / BATCH_GET extensions (seed review item 4). Byte formats
 * are specified in docs/broker.md; both are answered only in default mode.
 */

/** `BATCH_PUT <topic> <count> <len> <entry> ...` → `OK <count>`. All entries are validated before any is appended. */
export function executeBatchPut(store: LogStore, topic: string, rest: Buffer | undefined, maxEntries: number): Buffer {
  if (rest === undefined) return errFrame('BATCH_PUT requires a payload');
  let entries: Buffer[];
  try {
    entries = parseLengthPrefixedList(rest, 0, maxEntries);
  } catch (error) {
    return errFrame(`invalid batch: ${describe(error)}`);
  }
  for (let i = 0; i < entries.length; i++) {
    // The frame as a whole is valid UTF-8, but a length can cut a character in two.
    if (!isUtf8(entries[i]!)) return errFrame(`invalid batch: entry ${i} is not valid UTF-8 on its own`);
  }
  const log = store.topic(topic);
  if (!log) return unknownTopicFrame(topic);
  log.appendBatch(entries); // all or none: an ERR stores nothing, so a retry stores each entry once
  return frameOf(`OK ${entries.length}`);
}

/** The arguments of a list read (`BATCH_GET` / `BATCH_LEASE`), or the error reply. */
export function parseReadArgs(op: string, rest: Buffer | undefined, maxEntries: number): { limit: number; maxBytes: number } | Buffer {
  if (rest === undefined) return errFrame(`${op} requires a payload`);
  let limit: number;
  let maxBytes: number;
  try {
    const entriesArg = readDecimal(rest, 0, 'max_entries');
    if (rest[entriesArg.end] !== 0x20) throw new Error('expected "<max_entries> <max_bytes>"');
    const bytesArg = readDecimal(rest, entriesArg.end + 1, 'max_bytes');
    if (bytesArg.end !== rest.length) throw new Error('expected "<max_entries> <max_bytes>"');
    limit = entriesArg.value;
    maxBytes = bytesArg.value;
  } catch (error) {
    return errFrame(`invalid batch: ${describe(error)}`);
  }
  if (limit < 1 || limit > maxEntries) return errFrame(`invalid batch: max_entries must be from 1 to ${maxEntries}, got ${limit}`);
  if (maxBytes < 1) return errFrame('invalid batch: max_bytes must be at least 1');
  return { limit, maxBytes };
}

/**
 * The entry budget of a list reply: as many entries as fit `maxBytes` of
 * payload (the first one always) and one frame of `maxFrame` bytes whose
 * head before the count takes `headBytes` (`OK ` for BATCH_GET).
 */
export class ReplyBudget {
  /** Length of a first entry that does not fit a frame at all (0 when none). */
  firstTooLarge = 0;
  readonly accept: Accept;

  constructor(maxBytes: number, maxFrame: number, headBytes: number) {
    let payloadBytes = 0;
    let frameBytes = headBytes;
    this.accept = (length, index) => {
      const next = frameBytes + 2 + decimalDigits(length) + length;
      if (next + decimalDigits(index + 1) > maxFrame) {
        if (index === 0) this.firstTooLarge = length;
        return false;
      }
      if (index > 0 && payloadBytes + length > maxBytes) return false;
      payloadBytes += length;
      frameBytes = next;
      return true;
    };
  }

  /** The reply when nothing was taken. */
  nothing(op: string): Buffer {
    if (this.firstTooLarge > 0) {
      return errFrame(`invalid batch: the next entry (${this.firstTooLarge} bytes) does not fit a ${op} reply frame; read it with GET`);
    }
    return EMPTY_FRAME;
  }
}

/**
 * `BATCH_GET <topic> <max_entries> <max_bytes>` → `EMPTY` or
 * `OK <count> <len> <entry> ...`: as many entries as fit `max_entries`,
 * `max_bytes` of payload (the first entry is always taken) and one frame.
 * Entries released by a lease come first.
 */
export function executeBatchGet(store: LogStore, leases: LeaseBook, topic: string, rest: Buffer | undefined, maxEntries: number, maxFrame: number): Buffer {
  const args = parseReadArgs('BATCH_GET', rest, maxEntries);
  if (Buffer.isBuffer(args)) return args;
  const log: TopicLog | undefined = store.topic(topic);
  if (!log) return unknownTopicFrame(topic);
  const budget = new ReplyBudget(args.maxBytes, maxFrame, 3);
  const entries = leases.consume(log, args.limit, budget.accept);
  return entries.length > 0 ? batchGetFrame(entries) : budget.nothing('BATCH_GET');
}

export function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^Malformed batch: /, '').replace(/\.$/, '');
}
