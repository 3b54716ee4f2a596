import type { Logger } from 'pino';
import { serializeError } from '../../errors/index.js';
import type { FetchedBatch } from '../pipeline/pipeline-io.js';

/**
 * Most batches whose ACK waits for their records to finish (no journal, or a
 * failed append). At it the sources stop fetching until a held lease is
 * acknowledged (`full`): the embedded node allows 4,096 open leases per
 * connection, and thousands of small leases would hit that before the
 * in-flight bound. (Acknowledging past it instead lost records: a record of
 * an acknowledged lease without a journal is nowhere once it is cut short.)
 */
export const MAX_HELD_LEASES = 1_000;

/** Per-batch countdown: acknowledges its lease once every entry of the batch was released. */
export interface LeaseHold {
  /** One entry of the batch finished; `failed` keeps the lease unacknowledged (the node redelivers it). */
  entryDone(failed: boolean): void;
}

/**
 * When to acknowledge a fetched lease (docs/client.md, "Using leases from the
 * coordinator"): right after the journal append resolved — the entries are
 * then durable here, so the node may forget them — or, with no journal (or a
 * failed append), once every record of the batch was released, so the lease
 * itself is the crash protection. Acks are never awaited in the fetch loop;
 * `settle()` awaits them all before the client closes, because a closed
 * connection releases its open leases (harmless, but only redeliveries).
 */
export class LeaseAcks {
  readonly #pending = new Set<Promise<void>>();
  readonly #logger: Logger | undefined;
  readonly #onRoom: (() => void) | undefined;
  readonly #onLost: ((source: string, entries: Buffer[]) => void) | undefined;
  #held = 0;

  /**
   * `onRoom`: called when `full` turns false again (a fetch loop waiting on it can go on).
   * `onLost`: called with a batch's entries when its ACK failed: the node will deliver them again.
   */
  constructor(logger?: Logger, onRoom?: () => void, onLost?: (source: string, entries: Buffer[]) => void) {
    this.#logger = logger;
    this.#onRoom = onRoom;
    this.#onLost = onLost;
  }

  /** True while MAX_HELD_LEASES leases wait for their records: fetch no more until it turns false. */
  get full(): boolean {
    return this.#held >= MAX_HELD_LEASES;
  }

  /** Leases waiting for their records to finish. */
  get held(): number {
    return this.#held;
  }

  /** Acknowledges `batch` once `appended` resolves (the entries are in the journal). */
  afterAppend(batch: FetchedBatch, appended: Promise<unknown>, source: string): void {
    if (!batch.ack) return;
    // Called as a method: a Lease's ack() uses its own private fields.
    this.#track(appended.then(() => batch.ack!(), () => undefined), source, batch.entries);
  }

  /** Acknowledges `batch` now: every entry of it is a redelivered copy of one the journal holds. */
  redelivered(batch: FetchedBatch, source: string): void {
    if (batch.ack) this.#track(batch.ack(), source, batch.entries);
  }

  /**
   * A hold that acknowledges `batch` after `entries` entries were released.
   * Always held, even past MAX_HELD_LEASES (a batch fetched before the fetch
   * loop saw `full` must not be acknowledged before its records finish).
   */
  afterRelease(batch: FetchedBatch, entries: number, source: string): LeaseHold | undefined {
    if (!batch.ack) return undefined;
    this.#held += 1;
    let left = entries;
    let failed = false;
    return {
      entryDone: (entryFailed) => {
        failed ||= entryFailed;
        if (--left !== 0) return;
        this.#held -= 1;
        if (this.#held === MAX_HELD_LEASES - 1) this.#onRoom?.();
        if (!failed) this.#track(batch.ack!(), source, batch.entries);
        else this.#logger?.warn({ source }, 'a record of a leased batch could not be finished; the lease stays open and the node redelivers it');
      },
    };
  }

  /** Resolves once every ACK sent so far has settled. */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  #track(ack: Promise<void>, source: string, entries: Buffer[]): void {
    const tracked: Promise<void> = ack.catch((error: unknown) => {
      // The node redelivers what it did not see acknowledged (a node that
      // died or a connection cut before the ACK arrived), first, before newer
      // entries. Those entries are already journalled or finished: `onLost`
      // lets the fetch loop drop the copies instead of processing them again
      // (a double-applied update for a stateful processor).
      this.#logger?.warn({ err: serializeError(error), source, entries: entries.length }, 'lease ack failed; the node will deliver those entries again, and their copies will be dropped');
      this.#onLost?.(source, entries);
    }).finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }
}
