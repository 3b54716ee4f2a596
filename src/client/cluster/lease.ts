import { WalrusError } from '../../errors/index.js';
import { encodeAck, encodeBatchLease, encodeRelease, parseBatchLease, parseBatchPut, parseOk } from '../../protocol/index.js';
import type { Connection } from '../transport/connection.js';
import { isNodeFailure } from '../transport/network-errors.js';
import { abortError } from '../../util/sleep.js';
import type { WalrusNode } from './node.js';
import type { RetryCounters } from './stats.js';

/**
 * `client.lease(...)`: a batch read that is consumed only when acknowledged.
 *
 * @example
 * const lease = await client.lease('orders', 500);
 * await journal.append(lease.entries); // make them durable first
 * await lease.ack();                   // then let the node forget them
 */
export interface Lease {
  /** The entries (raw UTF-8 bytes, oldest first); [] when the topic is drained. */
  readonly entries: Buffer[];
  /**
   * True when the node holds these entries until `ack()` (BATCH_LEASE). False
   * when it lacks the extension and the entries were read with BATCH_GET or
   * GET, which consume them at once: then `ack()` does nothing and a crash
   * before they are made durable loses them (docs/client.md, "Leases").
   */
  readonly leased: boolean;
  /** The node's lease id (undefined when not leased or empty). */
  readonly leaseId: number | undefined;
  /** The node that served the read. */
  readonly node: string;
  /**
   * Consumes the entries on the node. Sent on the connection the lease was
   * read on. Rejects with a retriable CONNECTION_CLOSED when that connection
   * is gone (the node then delivers the entries again: a possible duplicate,
   * never a loss) and with LEASE_NOT_FOUND when the node's lease timeout
   * released them. Idempotent: later calls return the first call's promise.
   */
  ack(): Promise<void>;
}

/** Per-call options for the BATCH_LEASE request (the signal only bounds the wait for a connection). */
export interface LeaseCallMeta {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/** What a lease with nothing to acknowledge answers to every `ack()`: one settled promise, so "the same promise" holds. */
const ACKED = Promise.resolve();
const NOOP_ACK = (): Promise<void> => ACKED;

/** A lease over entries that were consumed on read (no extension, or nothing to lease). */
export function unleased(entries: Buffer[], node: string, leased: boolean): Lease {
  return { entries, leased, leaseId: undefined, node, ack: NOOP_ACK };
}

/**
 * Sends BATCH_LEASE on one connection of `node` and keeps that connection
 * held until the lease is acknowledged (or its ACK failed). A signal that
 * aborted before the request went out rejects with ABORTED. Why no abort
 * once sent: an abandoned reply would leave a lease open on a live
 * connection that nobody will acknowledge, hiding its entries until the
 * connection closes; the request timeout still bounds the wait, and a
 * timeout retires the connection, which releases the lease on the node.
 */
export async function leaseOnNode(node: WalrusNode, topic: string, maxEntries: number, maxBytes: number, counters: RetryCounters, call: LeaseCallMeta = {}): Promise<Lease> {
  const frame = encodeBatchLease(topic, maxEntries, maxBytes);
  const held = await node.holdConnection(
    (connection) => {
      // Not sent once the caller gave up: the lease would hide its entries until the connection closes.
      if (call.signal?.aborted) return Promise.reject(abortError(call.signal, { node: node.id, command: 'BATCH_LEASE', topic, requestSent: false }));
      return connection.send(frame, parseBatchLease, { command: 'BATCH_LEASE', topic, timeoutMs: call.timeoutMs }).catch((error: unknown) => {
        throw retireOnTimeout(connection, error);
      });
    },
    'BATCH_LEASE',
    call,
    topic,
  );
  if (held.value === undefined) {
    held.release();
    return unleased([], node.id, true);
  }
  return new HeldLease(topic, held.value.leaseId, held.value.entries, held.connection, held.release, counters, call.timeoutMs);
}

/** RELEASE on `node` (client.releaseLeases); undefined from an embedded node older than the command. */
export async function releaseOnNode(node: WalrusNode, topic: string, call: LeaseCallMeta = {}): Promise<number | undefined> {
  try {
    return await node.request(encodeRelease(topic), parseBatchPut, { command: 'RELEASE', topic, ...call });
  } catch (error) {
    if ((error as WalrusError).code === 'UNKNOWN_COMMAND') return undefined;
    throw error;
  }
}

/**
 * A BATCH_LEASE or ACK given up on by a short `timeoutMs` leaves its reply
 * to come on a live connection: a lease nobody acknowledges, or an ACK
 * nobody knows the fate of. Closing the connection settles both: the node
 * releases the connection's leases, so the entries come again.
 */
function retireOnTimeout(connection: Connection, error: unknown): unknown {
  if (error instanceof WalrusError && error.code === 'REQUEST_TIMEOUT' && connection.isOpen) connection.destroy(error);
  return error;
}

class HeldLease implements Lease {
  readonly leased = true;
  readonly entries: Buffer[];
  readonly leaseId: number;
  readonly node: string;
  readonly #topic: string;
  readonly #connection: Connection;
  readonly #release: () => void;
  readonly #counters: RetryCounters;
  readonly #timeoutMs: number | undefined;
  /** How many entries (a holder may empty `entries` once they are durable, to free them while it holds the lease). */
  readonly #count: number;
  #acking: Promise<void> | undefined;

  constructor(topic: string, leaseId: number, entries: Buffer[], connection: Connection, release: () => void, counters: RetryCounters, timeoutMs: number | undefined) {
    this.#topic = topic;
    this.leaseId = leaseId;
    this.entries = entries;
    this.#count = entries.length;
    this.node = connection.node;
    this.#connection = connection;
    this.#release = release;
    this.#counters = counters;
    this.#timeoutMs = timeoutMs;
  }

  ack(): Promise<void> {
    this.#acking ??= this.#send();
    return this.#acking;
  }

  async #send(): Promise<void> {
    const topic = this.#topic;
    try {
      await this.#connection.send(encodeAck(topic, this.leaseId), parseOk, { command: 'ACK', topic, timeoutMs: this.#timeoutMs });
    } catch (error) {
      this.#counters.leaseRedeliveries += this.#count;
      retireOnTimeout(this.#connection, error);
      if (!isNodeFailure(error)) throw error;
      // Whatever broke the connection, the node releases a lease with its connection.
      throw new WalrusError('CONNECTION_CLOSED', `ACK of lease ${this.leaseId} (${this.#count} entries of ${topic}) could not be confirmed by node ${this.node}: the connection it was leased on is gone (${(error as WalrusError).code}). The node delivers these entries again: a possible duplicate, not a loss.`, {
        cause: error,
        retriable: true,
        context: { node: this.node, topic, command: 'ACK', leaseId: this.leaseId, entries: this.#count },
      });
    } finally {
      this.#release();
    }
  }
}
