import { WalrusError } from '../../errors/index.js';
import { onAbort } from '../../util/abort.js';
import { abortError } from '../../util/sleep.js';
import type { Connection } from './connection.js';
import { Fifo } from '../../util/fifo.js';

/** Pool sizing and upkeep; see `PoolOptions` in options.ts for the documented, defaulted form. */
export interface PoolSettings {
  min: number;
  max: number;
  acquireTimeoutMs: number;
  idleTimeoutMs: number;
  healthCheckIntervalMs: number;
  /** Leases one connection may carry at once (its pipeline depth). */
  maxPipeline: number;
}

/** Pool gauges and counters, as `client.stats().nodes[n].pool`. */
export interface PoolStats {
  /** Open connections. */
  size: number;
  /** Connections carrying at least one lease (a request, or a BATCH_LEASE lease not yet acknowledged). */
  active: number;
  /** Open connections with no lease. */
  idle: number;
  /** Callers waiting for a lease. */
  pending: number;
  /** Connections being opened. */
  connecting: number;
  created: number;
  /** Connection attempts that failed. */
  failed: number;
  /** Connections retired: broken, failed a health check, or evicted as idle. */
  destroyed: number;
  evicted: number;
}

/** A connection the node closes sooner than this after it opened counts against top-ups (see `#noteClosed`). */
const SHORT_LIVED_MS = 1_000;
/** First and longest pause of top-ups after short-lived connections. */
const FIRST_REFILL_PAUSE_MS = 100;
const MAX_REFILL_PAUSE_MS = 30_000;

interface Waiter {
  resolve: (connection: Connection) => void;
  reject: (error: WalrusError) => void;
  timer: NodeJS.Timeout;
  /** Stops listening to the caller's signal. */
  offAbort: (() => void) | undefined;
  /** Served, timed out, aborted or failed: skipped when its turn comes. */
  gone: boolean;
}

/**
 * Connections to one node. Connections are pipelined, so a "lease" is a
 * share of a connection, not exclusive use: `acquire()` hands out the
 * least-loaded open connection and opens another (up to `max`) when all are
 * busy. Callers wait only when every connection carries `maxPipeline` leases
 * and the pool is full. Broken connections leave the pool when they close;
 * upkeep tops the pool back up to `min`, evicts idle connections above `min`
 * and health-checks idle ones.
 */
export class ConnectionPool {
  readonly #open: Connection[] = [];
  readonly #leases = new Map<Connection, number>();
  /** Sticky leases (`pin`) per connection: they keep it open, but take none of its pipeline slots. */
  readonly #pins = new Map<Connection, number>();
  /** Callers waiting for a slot, oldest first; some may be `gone` (see `#dropWaiter`). */
  readonly #waiters = new Fifo<Waiter>();
  /** Waiters in `#waiters` that are not gone. */
  #live = 0;
  readonly #settings: PoolSettings;
  readonly #create: () => Promise<Connection>;
  readonly #healthCheck: ((connection: Connection) => Promise<void>) | undefined;
  readonly #node: string;
  #connecting = 0;
  /** Connections being opened: close() waits for them to end (the node cuts them when it closes). */
  readonly #opening = new Set<Promise<unknown>>();
  #counters = { created: 0, failed: 0, destroyed: 0, evicted: 0 };
  #closed = false;
  #upkeep: NodeJS.Timeout;
  #lastHealthCheck = performance.now();
  #lastConnectError: WalrusError | undefined;
  readonly #openedAt = new WeakMap<Connection, number>();
  /** Connections the pool closed itself (idle eviction): their end says nothing about the node. */
  readonly #evicting = new WeakSet<Connection>();
  /** Top-ups wait until then after connections died young; the pause doubles each time. */
  #refillAt = 0;
  #refillPauseMs = 0;

  constructor(node: string, create: () => Promise<Connection>, settings: PoolSettings, healthCheck?: (connection: Connection) => Promise<void>) {
    this.#node = node;
    this.#create = create;
    this.#settings = settings;
    this.#healthCheck = healthCheck;
    const every = Math.max(50, Math.min(settings.idleTimeoutMs, settings.healthCheckIntervalMs) / 2);
    this.#upkeep = setInterval(() => this.#maintain(), every);
    this.#upkeep.unref();
  }

  /** A connection with a lease; give it back with `release`. */
  async acquire(signal?: AbortSignal): Promise<Connection> {
    if (this.#closed) throw this.#closedError();
    const best = this.#leastLoaded();
    if (best) {
      const leases = this.#leases.get(best)!;
      if (leases === 0) return this.#lease(best);
      if (leases < this.#settings.maxPipeline) {
        // Busy but below its pipeline depth: use it now, and open another
        // connection in the background so load spreads as the pool grows.
        if (!this.#full()) this.#grow().catch(() => {});
        return this.#lease(best);
      }
    }
    if (!this.#full()) {
      const connection = await this.#grow();
      if (this.#closed) throw this.#closedError();
      if (this.#leases.get(connection)! < this.#settings.maxPipeline && connection.isOpen) return this.#lease(connection);
    }
    return this.#wait(signal);
  }

  release(connection: Connection): void {
    const leases = this.#leases.get(connection);
    if (leases === undefined) return;
    this.#leases.set(connection, leases - 1);
    this.#serveWaiters();
  }

  /**
   * Keeps `connection` from being evicted as idle or health-checked until
   * `unpin` (a BATCH_LEASE lease lives on it). Why not a pipeline slot: a
   * lease is not a request in flight, and leases a caller never acknowledges
   * would otherwise use up every slot and starve all other calls.
   */
  pin(connection: Connection): void {
    if (this.#leases.has(connection)) this.#pins.set(connection, (this.#pins.get(connection) ?? 0) + 1);
  }

  unpin(connection: Connection): void {
    const pins = this.#pins.get(connection);
    if (pins === undefined) return;
    if (pins > 1) this.#pins.set(connection, pins - 1);
    else this.#pins.delete(connection);
  }

  stats(): PoolStats {
    let active = 0;
    for (const connection of this.#open) if (this.#leases.get(connection)! > 0 || this.#pins.has(connection)) active++;
    return {
      size: this.#open.length,
      active,
      idle: this.#open.length - active,
      pending: this.#live,
      connecting: this.#connecting,
      ...this.#counters,
    };
  }

  /** The longest any open connection has waited for the node to say anything (Connection.silentMs). */
  silentMs(): number {
    const now = performance.now();
    let longest = 0;
    for (const connection of this.#open) longest = Math.max(longest, connection.silentMs(now));
    return longest;
  }

  /** Closes every connection (in-flight requests finish first) and fails waiters with POOL_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#upkeep);
    this.#rejectAll(this.#closedError());
    // A connection still opening is closed as soon as it opens (see #grow); none may outlive close().
    await Promise.allSettled([...this.#opening]);
    await Promise.all(this.#open.map((connection) => connection.close()));
  }

  /** Opens connections until `min` are open; errors are counted, not thrown. Paused while the node closes new connections at once. */
  async fill(): Promise<void> {
    while (!this.#closed && this.#open.length + this.#connecting < this.#settings.min && performance.now() >= this.#refillAt) {
      await this.#grow().catch(() => {});
      if (this.#lastConnectError && this.#open.length === 0) return;
    }
  }

  #full(): boolean {
    return this.#open.length + this.#connecting >= this.#settings.max;
  }

  #leastLoaded(): Connection | undefined {
    let best: Connection | undefined;
    let bestLeases = Number.POSITIVE_INFINITY;
    for (const connection of this.#open) {
      const leases = this.#leases.get(connection)!;
      if (leases < bestLeases && connection.isOpen) {
        best = connection;
        bestLeases = leases;
      }
    }
    return best;
  }

  #lease(connection: Connection): Connection {
    this.#leases.set(connection, this.#leases.get(connection)! + 1);
    return connection;
  }

  async #grow(): Promise<Connection> {
    this.#connecting++;
    let connection: Connection;
    const opening = this.#create();
    this.#opening.add(opening);
    try {
      connection = await opening;
    } catch (error) {
      this.#counters.failed++;
      this.#lastConnectError = error as WalrusError;
      // Waiters cannot be served by a connection that never came; fail them
      // with the cause rather than letting them sit until the acquire timeout.
      if (this.#open.length === 0) this.#rejectAll(error as WalrusError);
      throw error;
    } finally {
      this.#connecting--;
      this.#opening.delete(opening);
    }
    this.#lastConnectError = undefined;
    this.#counters.created++;
    if (this.#closed) {
      void connection.close();
      return connection;
    }
    this.#open.push(connection);
    this.#leases.set(connection, 0);
    this.#openedAt.set(connection, performance.now());
    connection.onClose(() => this.#remove(connection));
    this.#serveWaiters();
    return connection;
  }

  #remove(connection: Connection): void {
    const at = this.#open.indexOf(connection);
    if (at < 0) return;
    this.#open.splice(at, 1);
    this.#leases.delete(connection);
    this.#pins.delete(connection);
    this.#counters.destroyed++;
    this.#noteClosed(connection);
    // A waiter may now be able to open a fresh connection.
    if (this.#live > 0 && !this.#full() && !this.#closed) this.#grow().catch(() => {});
  }

  /**
   * Why: a node (or a proxy in front of it) that accepts connections and
   * closes them at once would otherwise have top-ups reopen them in a tight
   * loop — tens of thousands of connections a second, most of a core. Each
   * connection that dies within SHORT_LIVED_MS doubles the pause before the
   * next top-up (up to MAX_REFILL_PAUSE_MS); one that lived longer ends it.
   * Connections opened for requests are not paused: those fail, are retried
   * with backoff and trip the breaker.
   */
  #noteClosed(connection: Connection): void {
    if (this.#closed || this.#evicting.has(connection)) return;
    const now = performance.now();
    if (now - (this.#openedAt.get(connection) ?? 0) >= SHORT_LIVED_MS) {
      this.#refillPauseMs = 0;
      return;
    }
    this.#refillPauseMs = Math.min(MAX_REFILL_PAUSE_MS, Math.max(FIRST_REFILL_PAUSE_MS, this.#refillPauseMs * 2));
    this.#refillAt = now + this.#refillPauseMs;
  }

  #wait(signal: AbortSignal | undefined): Promise<Connection> {
    if (signal?.aborted) return Promise.reject(abortError(signal, { node: this.#node }));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        offAbort: undefined,
        gone: false,
        timer: setTimeout(() => {
          this.#dropWaiter(waiter);
          waiter.offAbort?.();
          reject(new WalrusError('POOL_TIMEOUT', `No connection to node ${this.#node} became free within ${this.#settings.acquireTimeoutMs} ms (pool max ${this.#settings.max}, pipeline ${this.#settings.maxPipeline}); raise pool.max or lower concurrency.`, { context: { node: this.#node } }));
        }, this.#settings.acquireTimeoutMs),
      };
      if (signal) {
        waiter.offAbort = onAbort(signal, () => {
          this.#dropWaiter(waiter);
          clearTimeout(waiter.timer);
          reject(abortError(signal, { node: this.#node }));
        });
      }
      this.#waiters.push(waiter);
      this.#live++;
    });
  }

  #serveWaiters(): void {
    while (this.#live > 0) {
      const best = this.#leastLoaded();
      if (!best || this.#leases.get(best)! >= this.#settings.maxPipeline) return;
      const waiter = this.#waiters.shift()!;
      if (waiter.gone) continue;
      waiter.gone = true;
      this.#live--;
      clearTimeout(waiter.timer);
      waiter.offAbort?.();
      waiter.resolve(this.#lease(best));
    }
  }

  /**
   * A waiter that timed out or was aborted is marked, not searched for:
   * removing it from the queue was O(waiters), so 20,000 callers sharing an
   * aborted signal took 30 s of blocked event loop (O(n²)). Marked waiters
   * are skipped when served, and squeezed out once they are the majority.
   */
  #dropWaiter(waiter: Waiter): void {
    if (waiter.gone) return;
    waiter.gone = true;
    this.#live--;
    if (this.#waiters.length > 64 && this.#live * 2 < this.#waiters.length) {
      for (const w of this.#waiters.drain()) if (!w.gone) this.#waiters.push(w);
    }
  }

  #rejectAll(error: WalrusError): void {
    for (const waiter of this.#waiters.drain()) {
      if (waiter.gone) continue;
      waiter.gone = true;
      this.#rejectWaiter(waiter, error);
    }
    this.#live = 0;
  }

  #rejectWaiter(waiter: Waiter, error: WalrusError): void {
    clearTimeout(waiter.timer);
    waiter.offAbort?.();
    waiter.reject(error);
  }

  #closedError(): WalrusError {
    return new WalrusError('POOL_CLOSED', `The connection pool for node ${this.#node} is closed.`, { context: { node: this.#node } });
  }

  #maintain(): void {
    if (this.#closed) return;
    const now = performance.now();
    for (const connection of [...this.#open]) {
      const idle = this.#leases.get(connection) === 0 && connection.inFlight === 0 && !this.#pins.has(connection);
      if (idle && this.#open.length > this.#settings.min && now - connection.lastUsedAt >= this.#settings.idleTimeoutMs) {
        this.#counters.evicted++;
        this.#evicting.add(connection);
        void connection.close();
      }
    }
    if (this.#healthCheck && now - this.#lastHealthCheck >= this.#settings.healthCheckIntervalMs) {
      this.#lastHealthCheck = now;
      for (const connection of this.#open) {
        if (this.#leases.get(connection) !== 0 || connection.inFlight !== 0 || this.#pins.has(connection)) continue;
        this.#healthCheck(connection).catch((error: unknown) => connection.destroy(error instanceof WalrusError ? error : undefined));
      }
    }
    if (this.#open.length + this.#connecting < this.#settings.min) void this.fill();
  }
}
