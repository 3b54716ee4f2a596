import type { Server, Socket } from 'node:net';
import { WalrusError } from '../errors/index.js';
import type { AuthGate } from './auth/auth-gate.js';
import { createListener, prepareNodeSecurity, type NodeSecurity } from './auth/node-security.js';
import { executeCommand, type CommandContext } from './commands.js';
import { BrokerConnection, type ConnectionHost } from './connection.js';
import { ConnectionRegistry } from '../util/connection-registry.js';
import { DurabilityGate } from './durability-gate.js';
import { LeaseBook } from './leases.js';
import { ClaimBook } from './claims.js';
import { resolveBrokerOptions, type BrokerOptions, type CompatMode, type ResolvedBrokerOptions } from './options.js';
import { errFrame } from './replies.js';
import { diskFullAdvice } from '../util/disk-full.js';
import { openStore } from './store/open-store.js';
import { recoverySummary, reportRepairs, type RecoveryReport } from './store/recovery-report.js';
import type { LogStore } from './store/types.js';

/** A running embedded node. */
export interface BrokerHandle {
  /** The address it is bound to (the real one when port 0 was asked for). */
  readonly host: string;
  readonly port: number;
  /** `host:port`, ready for `new WalrusClient({ nodes: [address] })`. */
  readonly address: string;
  readonly options: Readonly<ResolvedBrokerOptions>;
  /** Live counters (also in METRICS under `embedded` in default mode). */
  stats(): BrokerStats;
  /** Stops accepting, answers and flushes what was received, fsyncs, closes every connection and file. Idempotent. */
  close(): Promise<void>;
  /** Settles once the node has stopped, by `close()` or by a fatal storage failure. */
  readonly closed: Promise<void>;
  /** Why the node stopped on its own (a storage failure), or undefined. */
  readonly failure: Error | undefined;
  /** Things the operator should know at every start (e.g. an `insecure` wide bind); `walrus-stream broker` prints them. */
  readonly warnings: readonly string[];
  /** What start-up recovery found and repaired in the data dir (undefined for a memory-only node). */
  readonly recovery: RecoveryReport | undefined;
}

export interface BrokerStats {
  connections: number;
  topics: number;
  requests: number;
  uptimeMs: number;
  /** BATCH_LEASE leases not yet acknowledged, and the entries they hold. */
  openLeases: number;
  leasedEntries: number;
  /** Users in the users file; successful and failed AUTH since start. */
  users: number;
  logins: number;
  authFailures: number;
  /** Reply bytes made but not yet taken by clients, over all connections. */
  unsentReplyBytes: number;
  /** Connections closed to make room at `maxConnections`, and by the idle timeout, since start. */
  evictedConnections: number;
  idleClosedConnections: number;
  /** Consumed segment files retention deleted since start, and the bytes they held (0 without a data directory). */
  segmentsDeleted: number;
  bytesDeleted: number;
}

/**
 * Starts an embedded Walrus-compatible node and resolves once it listens.
 *
 * @example
 * const node = await startBroker({ port: 0, dataDir: './.walrus' });
 * console.log(node.address); // 127.0.0.1:40123
 * await node.close();
 */
export async function startBroker(options: BrokerOptions = {}): Promise<BrokerHandle> {
  const resolved = resolveBrokerOptions(options);
  // Users and the exposure rule are checked before the store is opened or anything listens.
  const security = await prepareNodeSecurity(resolved, options);
  const store = await openStore(resolved);
  reportRepairs(store.recovery, options.onRecoveryRepair);
  const node = new EmbeddedNode(resolved, store, security);
  try {
    await node.listen();
  } catch (error) {
    await store.close();
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === 'EADDRINUSE' ? ' Another process is listening there: choose another port, or port 0 for any free one.'
      : code === 'EACCES' ? ' Ports below 1024 need privileges: choose a higher port.'
      : code === 'EADDRNOTAVAIL' ? ' That address is not an interface of this machine.' : '';
    throw new WalrusError('NETWORK_ERROR', `The broker could not listen on ${resolved.host}:${resolved.port}: ${code ?? (error as Error).message}.${hint}`, {
      cause: error,
      retriable: false,
      context: { node: `${resolved.host}:${resolved.port}` },
    });
  }
  return node;
}

class EmbeddedNode implements BrokerHandle, ConnectionHost {
  readonly options: ResolvedBrokerOptions;
  readonly compat: CompatMode;
  readonly maxUnsentReplyBytes: number;
  readonly #store: LogStore;
  readonly #server: Server;
  readonly #connections: ConnectionRegistry<BrokerConnection>;
  readonly #commit: DurabilityGate;
  readonly #context: CommandContext;
  readonly #leases: LeaseBook;
  readonly #claims = new ClaimBook();
  readonly #startedAt = Date.now();
  readonly #gate: AuthGate;
  readonly warnings: readonly string[];
  #host = '';
  #port = 0;
  #requests = 0;
  #closing: Promise<void> | undefined;
  #failure: Error | undefined;
  #markClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => {
    this.#markClosed = resolve;
  });

  constructor(options: ResolvedBrokerOptions, store: LogStore, security: NodeSecurity) {
    this.options = options;
    this.#gate = security.gate;
    this.warnings = security.warnings;
    this.compat = options.compat;
    this.maxUnsentReplyBytes = options.maxUnsentReplyBytes;
    this.#connections = new ConnectionRegistry(options.maxConnections);
    this.#store = store;
    this.#commit = new DurabilityGate(store, options.fsync, (error) => this.#fatal(error));
    this.#leases = new LeaseBook(options.leaseTimeoutMs, Date.now, options.maxOpenLeases);
    this.#context = {
      store,
      compat: options.compat,
      nodeId: options.nodeId,
      leases: this.#leases,
      claims: this.#claims,
      metrics: () => ({
        nodeId: options.nodeId,
        logIndex: 1 + store.topicCount + store.sealedSegmentCount,
        millisSinceStart: Date.now() - this.#startedAt,
        extra: {
          ...this.stats(),
          fsync: options.fsync,
          // No data directory: an absolute path tells any client about the host's layout.
          persistent: options.dataDir !== undefined,
          rss_bytes: process.memoryUsage.rss(),
          ...(store.recovery ? { recovery: recoverySummary(store.recovery) } : {}),
        },
      }),
    };
    // No `server.maxConnections`: refusing at the limit would let idle sockets lock everyone out (see ConnectionRegistry).
    this.#server = createListener(security, (socket) => this.#accept(socket));
  }

  get host(): string {
    return this.#host;
  }

  get port(): number {
    return this.#port;
  }

  get address(): string {
    return this.#host.includes(':') ? `[${this.#host}]:${this.#port}` : `${this.#host}:${this.#port}`;
  }

  get recovery(): RecoveryReport | undefined {
    return this.#store.recovery;
  }

  stats(): BrokerStats {
    let unsent = 0;
    for (const connection of this.#connections.values()) unsent += connection.unsentBytes;
    return {
      connections: this.#connections.size,
      topics: this.#store.topicCount,
      requests: this.#requests,
      uptimeMs: Date.now() - this.#startedAt,
      openLeases: this.#leases.openLeases,
      leasedEntries: this.#leases.leasedEntries,
      users: this.#gate.users.size,
      logins: this.#gate.users.logins,
      authFailures: this.#gate.users.failures,
      unsentReplyBytes: unsent,
      evictedConnections: this.#connections.evicted,
      idleClosedConnections: this.#connections.idleClosed,
      segmentsDeleted: this.#store.retention?.segmentsDeleted ?? 0,
      bytesDeleted: this.#store.retention?.bytesDeleted ?? 0,
    };
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: this.options.host, port: this.options.port }, () => {
        this.#server.off('error', reject);
        // A failing accept (e.g. EMFILE) must not crash the process; the descriptor headroom (fd-headroom.ts) keeps it rare.
        this.#server.on('error', () => undefined);
        const address = this.#server.address();
        if (address && typeof address === 'object') {
          this.#host = address.address;
          this.#port = address.port;
        }
        resolve();
      });
    });
  }

  #accept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    // Detects peers that vanished without a FIN (crashed host, cut network).
    socket.setKeepAlive(true, 60_000);
    const connection = new BrokerConnection(socket, this);
    this.#connections.add(connection);
    this.#connections.watchIdle(socket, connection, this.options.idleTimeoutMs);
  }

  execute(body: Buffer, connection: BrokerConnection): Buffer | Promise<Buffer> {
    this.#requests++;
    return this.#gate.handle(body, connection, (admitted) => this.#run(admitted, connection));
  }

  #run(body: Buffer, connection: BrokerConnection): Buffer {
    try {
      return executeCommand(body, this.#context, connection);
    } catch (error) {
      // Only storage can throw here (e.g. EMFILE or ENOSPC creating a topic's
      // files): the request fails alone, the node and the connection stay up.
      return errFrame(`storage error: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  changeSeq(): number {
    return this.#store.changeSeq;
  }

  connectionClosed(connection: BrokerConnection): void {
    this.#connections.delete(connection);
    this.#commit.forget(connection);
    // Its unacknowledged leases go back to the topic, ahead of newer entries.
    this.#leases.releaseOwner(connection);
  }

  schedule(connection: BrokerConnection): void {
    this.#commit.schedule(connection);
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Storage failed (disk full, I/O error): nothing acknowledged may be lost, so stop serving. */
  #fatal(error: unknown): void {
    if (this.#closing) return;
    // Said where the operator looks: which data dir, and for a full disk what to do (ENOSPC alone names neither).
    const dir = this.options.dataDir ?? 'memory';
    const message = `storage failure in data dir ${dir}: ${(error as Error)?.message ?? String(error)}${diskFullAdvice(error, dir)}`;
    this.#failure = Object.assign(new Error(message, { cause: error }), { code: (error as NodeJS.ErrnoException)?.code });
    process.emitWarning(`walrus-stream broker: closing every connection: ${message}`);
    for (const connection of [...this.#connections.values()]) connection.destroy();
    void this.close().catch(() => undefined);
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown().finally(() => this.#markClosed());
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    try {
      await this.#commit.drain();
    } catch {
      // Nothing more can be made durable; connections are closed below without their replies.
      this.#commit.stop();
    }
    for (const connection of [...this.#connections.values()]) connection.end();
    const grace = setTimeout(() => {
      for (const connection of [...this.#connections.values()]) connection.destroy();
    }, 200);
    await serverClosed;
    clearTimeout(grace);
    await this.#store.close();
  }
}
