import type { BrokerConnection } from './connection.js';
import type { ResolvedBrokerOptions } from './options.js';
import type { LogStore } from './store/types.js';

/**
 * Holds each reply until the storage changes it depends on are as durable
 * as the fsync policy promises, then lets it leave. Each reply carries the
 * store's change sequence at the time it was made; it is released once
 * `durableSeq` reaches it, in order per connection. (Not the journal's
 * GroupCommit, which is a serial writer of journal records: this one writes
 * nothing itself, it gates replies on the store's flush and sync.)
 *
 * - fsync `never` / interval: a connection's changes are written to the OS
 *   right after its read chunk is executed and its replies leave at once
 *   (the background interval fdatasyncs on its own clock).
 * - fsync `always`: every connection with replies waiting joins the next
 *   group: one flush and one fdatasync for all of them; changes arriving
 *   during an fdatasync form the following group.
 */
export class DurabilityGate {
  readonly #store: LogStore;
  readonly #always: boolean;
  readonly #onFatal: (error: unknown) => void;
  readonly #waiting = new Set<BrokerConnection>();
  #durableSeq: number;
  #flushScheduled = false;
  #syncing = false;
  #interval: NodeJS.Timeout | undefined;

  constructor(store: LogStore, fsync: ResolvedBrokerOptions['fsync'], onFatal: (error: unknown) => void) {
    this.#store = store;
    this.#always = fsync === 'always';
    this.#onFatal = onFatal;
    this.#durableSeq = store.changeSeq;
    if (typeof fsync === 'object') {
      // A failed background fdatasync means acknowledged data may not be on disk: fatal, not ignorable.
      this.#interval = setInterval(() => void this.#store.sync().catch((error: unknown) => this.#onFatal(error)), fsync.intervalMs);
      this.#interval.unref();
    }
  }

  /** Called after a connection executed a read chunk. */
  schedule(connection: BrokerConnection): void {
    if (!this.#always && !this.#flushScheduled) {
      // Nothing to gain by waiting for other connections: write to the OS
      // and answer now (one write per read chunk, which already batches
      // everything a pipelining client sent).
      if (!this.#flushNow()) return;
      if (connection.release(this.#durableSeq)) return;
    }
    this.#waiting.add(connection);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  forget(connection: BrokerConnection): void {
    this.#waiting.delete(connection);
  }

  /** Final flush + fdatasync (shutdown): releases every reply that is now durable. */
  async drain(): Promise<void> {
    if (this.#interval) clearInterval(this.#interval);
    this.#interval = undefined;
    this.#durableSeq = await this.#store.sync();
    this.#releaseAll();
  }

  stop(): void {
    if (this.#interval) clearInterval(this.#interval);
    this.#interval = undefined;
  }

  #flushNow(): boolean {
    try {
      const written = this.#store.flush();
      if (!this.#always) this.#durableSeq = written;
      return true;
    } catch (error) {
      this.#onFatal(error);
      return false;
    }
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (!this.#flushNow()) return;
    if (!this.#always || this.#store.changeSeq <= this.#durableSeq) {
      this.#releaseAll();
      return;
    }
    if (this.#syncing) return; // the running sync's completion schedules the next group
    this.#syncing = true;
    this.#store.sync().then(
      (seq) => {
        this.#syncing = false;
        this.#durableSeq = Math.max(this.#durableSeq, seq);
        this.#releaseAll();
        if (this.#waiting.size > 0 && !this.#flushScheduled) {
          this.#flushScheduled = true;
          setImmediate(this.#flush);
        }
      },
      (error: unknown) => this.#onFatal(error),
    );
  };

  #releaseAll(): void {
    for (const connection of this.#waiting) {
      if (connection.release(this.#durableSeq)) this.#waiting.delete(connection);
    }
  }
}
