import type { Socket } from 'node:net';
import { nearFileDescriptorLimit } from './fd-headroom.js';

/**
 * Connection bounds of a server: the embedded node's (docs/broker.md,
 * "Limits") and the HTTP server's (docs/observability.md), kept apart from
 * the connection and server code they guard.
 *
 * - **max connections, without locking anyone out**: when the node is full
 *   (`maxConnections`, or within a margin of the process's descriptor limit),
 *   a new connection is accepted and the connection that has been idle the
 *   longest is closed to make room. Refusing new connections instead would
 *   let anyone who opens `maxConnections` idle sockets lock every other
 *   client out (measured: 4,096 idle sockets did exactly that); closing the
 *   idlest costs a well-behaved client at most a reconnect, which pools do
 *   anyway.
 * - **idle timeout**: a connection on which nothing moves in either
 *   direction for `idleTimeoutMs` is closed, so abandoned sockets (and
 *   clients that stopped reading while replies are queued for them) give
 *   their memory back.
 */
export class ConnectionRegistry<C extends { destroy(): void }> {
  readonly #max: number;
  /** Insertion order is activity order: the first key is the idlest connection. */
  readonly #byActivity = new Map<C, true>();
  #evicted = 0;
  #idleClosed = 0;

  constructor(maxConnections: number) {
    this.#max = maxConnections;
  }

  get size(): number {
    return this.#byActivity.size;
  }

  /** Connections closed to make room for a new one (at `maxConnections`, or near the file-descriptor limit). */
  get evicted(): number {
    return this.#evicted;
  }

  /** Connections closed by the idle timeout. */
  get idleClosed(): number {
    return this.#idleClosed;
  }

  values(): IterableIterator<C> {
    return this.#byActivity.keys();
  }

  /**
   * Registers a new connection, first closing the idlest ones while the
   * node is full, or while the process is near its file-descriptor limit
   * (fd-headroom.ts): either would otherwise lock new clients out.
   */
  add(connection: C): void {
    while (this.#byActivity.size >= this.#max) this.#evictIdlest();
    if (this.#byActivity.size > 0 && nearFileDescriptorLimit(this.#byActivity.size)) this.#evictIdlest();
    this.#byActivity.set(connection, true);
  }

  #evictIdlest(): void {
    const idlest = this.#byActivity.keys().next().value as C;
    // Removed here, not only by its close event, so a burst of accepts does not pick it twice.
    this.#byActivity.delete(idlest);
    this.#evicted++;
    idlest.destroy();
  }

  /** The connection did something (bytes in or out): it becomes the least idle. O(1). */
  touch(connection: C): void {
    if (!this.#byActivity.delete(connection)) return;
    this.#byActivity.set(connection, true);
  }

  delete(connection: C): void {
    this.#byActivity.delete(connection);
  }

  /**
   * Closes `connection` after `idleTimeoutMs` without bytes moving either
   * way on `socket` (0 = never). Node resets the timer on every read and
   * completed write.
   */
  watchIdle(socket: Socket, connection: C, idleTimeoutMs: number): void {
    // Any inbound chunk counts as activity for the eviction order too.
    socket.on('data', () => this.touch(connection));
    if (idleTimeoutMs <= 0) return;
    socket.setTimeout(idleTimeoutMs, () => {
      this.#idleClosed++;
      connection.destroy();
    });
  }
}
