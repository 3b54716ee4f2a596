import type { LeaseBook } from './leases.js';
import { MAX_LEASES_PER_CONNECTION } from './leases.js';
import { ReplyBudget, parseReadArgs } from './batch-commands.js';
import { OK_FRAME, batchGetFrame, decimalDigits, errFrame, frameOf, unknownTopicFrame } from './replies.js';
import type { LogStore } from './store/types.js';

/**
 * The BATCH_LEASE / ACK / RELEASE extension (default mode only): reads that are not
 * consumed until acknowledged, so a reader that crashes between receiving a
 * batch and making it durable loses nothing. Format and semantics:
 * docs/broker.md, "Leases".
 */

/** Lease ids are decimal; 15 digits stay below 2^53. */
const MAX_LEASE_ID_DIGITS = 15;

/**
 * `BATCH_LEASE <topic> <max_entries> <max_bytes>` → `EMPTY` or
 * `OK <lease_id> <count> <len> <entry> ...`, within one frame.
 */
export function executeBatchLease(store: LogStore, leases: LeaseBook, owner: object, topic: string, rest: Buffer | undefined, maxEntries: number, maxFrame: number): Buffer {
  const args = parseReadArgs('BATCH_LEASE', rest, maxEntries);
  if (Buffer.isBuffer(args)) return args;
  const log = store.topic(topic);
  if (!log) return unknownTopicFrame(topic);
  // "OK <id> " comes before the count; the id is not known until entries were found, so budget for the next one.
  const budget = new ReplyBudget(args.maxBytes, maxFrame, 4 + decimalDigits(leases.nextId));
  const lease = leases.lease(log, owner, args.limit, budget.accept);
  if (lease === 'too-many') return errFrame(`too many open leases (${MAX_LEASES_PER_CONNECTION}) on this connection: ACK some first`);
  if (lease === 'node-full') {
    return errFrame(`too many open leases (${leases.maxOpenLeases}) on this node (maxOpenLeases): ACK some first, or close connections that hold leases they will not acknowledge`);
  }
  if (lease === undefined) return budget.nothing('BATCH_LEASE');
  return batchGetFrame(lease.entries, lease.id);
}

/** `RELEASE <topic>` → `OK <entries>`: every open lease on the topic released for redelivery (LeaseBook.releaseTopic). */
export function executeRelease(store: LogStore, leases: LeaseBook, topic: string, rest: Buffer | undefined): Buffer {
  if (rest !== undefined) return errFrame('RELEASE takes only a topic');
  const log = store.topic(topic);
  if (!log) return unknownTopicFrame(topic);
  return frameOf(`OK ${leases.releaseTopic(log)}`);
}

/** `ACK <topic> <lease_id>` → `OK`, or `ERR unknown lease <id>`. */
export function executeAck(store: LogStore, leases: LeaseBook, owner: object, topic: string, rest: Buffer | undefined): Buffer {
  if (rest === undefined) return errFrame('ACK requires a lease id');
  const text = rest.toString('latin1');
  if (!/^[1-9][0-9]*$/.test(text) || text.length > MAX_LEASE_ID_DIGITS) {
    return errFrame(`invalid lease id ${JSON.stringify(rest.toString('utf8').slice(0, 40))}: expected the decimal id from a BATCH_LEASE reply`);
  }
  const log = store.topic(topic);
  if (!log) return unknownTopicFrame(topic);
  return leases.ack(log, owner, Number(text)) ? OK_FRAME : errFrame(`unknown lease ${text}`);
}
