import { isUtf8 } from 'node:buffer';
import { MAX_BATCH_ENTRIES, MAX_FRAME_BYTES } from '../protocol/limits.js';
import { topicProblem } from '../protocol/validate.js';
import { nearFileDescriptorLimit } from '../util/fd-headroom.js';
import { executeBatchGet, executeBatchPut } from './batch-commands.js';
import { executeAck, executeBatchLease, executeRelease } from './lease-commands.js';
import type { LeaseBook } from './leases.js';
import type { ClaimBook } from './claims.js';
import { metricsJson, stateJson, type MetricsInput } from './json-replies.js';
import type { CompatMode } from './options.js';
import { EMPTY_FRAME, ERR_INVALID_UTF8, ERR_UNKNOWN_COMMAND, MAX_NAME_LENGTH, OK_FRAME, errFrame, frameOf, okPayloadFrame, unknownTopicFrame } from './replies.js';
import type { LogStore } from './store/types.js';
import { trimEndLength } from './trim.js';

/**
 * Most topics a node holds. Each costs memory and, on disk, two file
 * descriptors for good: without a bound a client registering names in a loop
 * ran the process out of descriptors, and the next directory fsync failing
 * with EMFILE stopped the node.
 */
export const MAX_TOPICS = 10_000;

export { MAX_NAME_LENGTH } from './replies.js';

export interface CommandContext {
  store: LogStore;
  compat: CompatMode;
  nodeId: number;
  /** Open BATCH_LEASE leases and released entries waiting for redelivery. */
  leases: LeaseBook;
  /** Ownership leases (CLAIM / UNCLAIM). */
  claims: ClaimBook;
  /** Inputs for METRICS, computed on demand. */
  metrics: () => MetricsInput;
}

/**
 * Executes one request frame body and returns the reply frame. Mirrors the
 * stock listener (distributed-walrus `src/client.rs`): strict UTF-8, then
 * `trim_end()`, then `splitn(3, ' ')` into OP TOPIC REST; every failure is a
 * reply (`ERR ...`), never an exception, so one bad request cannot hurt the
 * connection or its neighbours.
 *
 * Synchronous on purpose: storage appends to memory and reads from memory or
 * with positional reads, so replies can be produced in request order with no
 * per-request promise; durability is handled by the connection's group commit.
 * `owner` is the connection the request came on (leases are bound to it).
 */
export function executeCommand(body: Buffer, ctx: CommandContext, owner: object): Buffer {
  if (!isUtf8(body)) return ERR_INVALID_UTF8;
  const end = trimEndLength(body);
  const sp1 = indexOfSpace(body, 0, end);
  const opEnd = sp1 === -1 ? end : sp1;
  const op = body.toString('latin1', 0, opEnd);

  switch (op) {
    case 'REGISTER':
    case 'PUT':
    case 'GET':
    case 'STATE':
      break;
    case 'METRICS':
      return frameOf(metricsJson(ctx.metrics(), ctx.compat));
    case 'BATCH_PUT':
    case 'BATCH_GET':
    case 'BATCH_LEASE':
    case 'ACK':
    case 'RELEASE':
    case 'CLAIM':
    case 'UNCLAIM':
      if (ctx.compat === 'stock') return ERR_UNKNOWN_COMMAND;
      break;
    default:
      return ERR_UNKNOWN_COMMAND;
  }

  if (sp1 === -1) return errFrame(`${op} requires a topic`);
  const sp2 = indexOfSpace(body, sp1 + 1, end);
  const topicEnd = sp2 === -1 ? end : sp2;
  const topic = body.toString('utf8', sp1 + 1, topicEnd);
  const rest = sp2 === -1 ? undefined : body.subarray(sp2 + 1, end);

  switch (op) {
    case 'REGISTER': {
      if (ctx.store.topic(topic) !== undefined) return OK_FRAME;
      // Stock accepts any UTF-8 name (conformance keeps that), but not any length: V8 hashes
      // strings over 16 Ki characters by length alone, so equal-length huge names all collide.
      if (topic.length > MAX_NAME_LENGTH) return errFrame(`invalid topic: ${topic.length} characters long, the limit is ${MAX_NAME_LENGTH}`);
      if (ctx.store.topicCount >= MAX_TOPICS) return errFrame(`too many topics (${MAX_TOPICS}) on this node`);
      // Two descriptors per topic, kept open: stop short of the process's limit (connections need some too).
      if (nearFileDescriptorLimit(ctx.store.topicCount * 2)) return errFrame('too many open files on this node to register another topic (raise ulimit -n)');
      ctx.store.register(topic);
      return OK_FRAME;
    }
    case 'PUT': {
      // Stock order: the payload is checked before the topic lookup.
      if (rest === undefined) return errFrame('PUT requires a payload');
      const log = ctx.store.topic(topic);
      if (!log) return unknownTopicFrame(topic);
      log.append(rest);
      return OK_FRAME;
    }
    case 'GET': {
      const log = ctx.store.topic(topic);
      if (!log) return unknownTopicFrame(topic);
      // Entries released by a lease come first; leased ones are skipped.
      const entry = ctx.leases.consumeOne(log);
      return entry === undefined ? EMPTY_FRAME : okPayloadFrame(entry);
    }
    case 'STATE': {
      const log = ctx.store.topic(topic);
      if (!log) return unknownTopicFrame(topic);
      return frameOf(stateJson(log.snapshot(), ctx.nodeId, ctx.compat, ctx.leases.stateOf(log)));
    }
    case 'BATCH_PUT':
      return executeBatchPut(ctx.store, topic, rest, MAX_BATCH_ENTRIES);
    case 'BATCH_LEASE':
      return executeBatchLease(ctx.store, ctx.leases, owner, topic, rest, MAX_BATCH_ENTRIES, MAX_FRAME_BYTES);
    case 'ACK':
      return executeAck(ctx.store, ctx.leases, owner, topic, rest);
    case 'RELEASE':
      return executeRelease(ctx.store, ctx.leases, topic, rest);
    // Claims name a partition topic but do not need it registered: ownership is decided before reading.
    case 'CLAIM':
    case 'UNCLAIM': {
      // Partition topic names (the client checks them as topics): huge ones would all collide in the claims map.
      const problem = topicProblem(topic);
      if (problem !== undefined) return errFrame(`invalid ${op} name: ${problem}`);
      return op === 'CLAIM' ? ctx.claims.claim(topic, rest) : ctx.claims.unclaim(topic, rest);
    }
    default:
      return executeBatchGet(ctx.store, ctx.leases, topic, rest, MAX_BATCH_ENTRIES, MAX_FRAME_BYTES);
  }
}

/** Index of the first ASCII space in [from, end), or -1. */
function indexOfSpace(body: Buffer, from: number, end: number): number {
  if (from >= end) return -1;
  const at = body.indexOf(0x20, from);
  return at === -1 || at >= end ? -1 : at;
}
