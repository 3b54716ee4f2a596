import type { ErrorContext } from '../errors/index.js';
import { parseLengthPrefixedList } from './batch.js';
import { MAX_BATCH_ENTRIES } from './limits.js';
import { malformed, throwIfErr, unexpected } from './reply-errors.js';

/**
 * Reply parsers, one per command (STATE and METRICS: json-replies.ts). Each takes the frame body and returns a
 * typed value, or throws: a WalrusError mapped from `ERR <message>`, or
 * PROTOCOL_ERROR when the reply does not fit the command (a sign the
 * connection is out of step; callers retire it).
 */

const OK = 0x4f_4b; // "OK"

function isOk(body: Buffer): boolean {
  return body.length >= 2 && body.readUInt16BE(0) === OK;
}

/** REGISTER and PUT: `OK`. */
export function parseOk(body: Buffer, context: ErrorContext = {}): void {
  throwIfErr(body, context);
  if (body.length !== 2 || !isOk(body)) throw unexpected(body, context);
}

/** GET: `OK <payload>` → the payload bytes (a view), `EMPTY` → undefined. */
export function parseGet(body: Buffer, context: ErrorContext = {}): Buffer | undefined {
  throwIfErr(body, context);
  if (body.length > 3 && isOk(body) && body[2] === 0x20) return body.subarray(3);
  if (body.length === 5 && body.toString('latin1') === 'EMPTY') return undefined;
  throw unexpected(body, context);
}

/** BATCH_PUT and RELEASE: `OK <count>` → count. */
export function parseBatchPut(body: Buffer, context: ErrorContext = {}): number {
  throwIfErr(body, context);
  const text = body.toString('latin1');
  const match = /^OK (\d{1,9})$/.exec(text);
  if (!match) throw unexpected(body, context);
  return Number(match[1]);
}

/** BATCH_GET: `EMPTY` → [], `OK <count> <len> <entry> ...` → entry views. */
export function parseBatchGet(body: Buffer, context: ErrorContext = {}): Buffer[] {
  throwIfErr(body, context);
  if (body.length === 5 && body.toString('latin1') === 'EMPTY') return [];
  if (body.length > 3 && isOk(body) && body[2] === 0x20) {
    try {
      return parseLengthPrefixedList(body, 3, MAX_BATCH_ENTRIES);
    } catch (error) {
      throw malformed((error as Error).message, context, error);
    }
  }
  throw unexpected(body, context);
}

/** A BATCH_LEASE reply: the lease to acknowledge and its entries (views into the reply). */
export interface LeaseReply {
  leaseId: number;
  entries: Buffer[];
}

/** BATCH_LEASE: `EMPTY` → undefined, `OK <lease_id> <count> <len> <entry> ...` → the lease. */
export function parseBatchLease(body: Buffer, context: ErrorContext = {}): LeaseReply | undefined {
  throwIfErr(body, context);
  if (body.length === 5 && body.toString('latin1') === 'EMPTY') return undefined;
  if (body.length > 3 && isOk(body) && body[2] === 0x20) {
    let at = 3;
    let leaseId = 0;
    while (at < body.length && at - 3 < 16 && body[at]! >= 0x30 && body[at]! <= 0x39) leaseId = leaseId * 10 + (body[at++]! - 0x30);
    const digits = at - 3;
    if (digits === 0 || digits > 15 || body[3] === 0x30 || body[at] !== 0x20) {
      throw malformed('invalid lease id (byte 3).', context);
    }
    try {
      return { leaseId, entries: parseLengthPrefixedList(body, at + 1, MAX_BATCH_ENTRIES) };
    } catch (error) {
      throw malformed((error as Error).message, context, error);
    }
  }
  throw unexpected(body, context);
}
