import { WalrusError } from '../errors/index.js';
import type { FsyncMode } from '../util/fsync.js';

/**
 * When appended entries reach the disk, in the shared fsync vocabulary
 * (util/fsync.ts), named after Walrus's `FsyncSchedule`:
 * - `'always'` (`SyncEach`): every acknowledgement waits for `fdatasync`;
 *   group commit batches all requests that arrive meanwhile.
 * - `{ intervalMs }` (`Milliseconds(n)`): entries are written to the OS
 *   before the reply and synced in the background every `intervalMs`.
 * - `'never'` (`NoFsync`): written to the OS before the reply, synced by the
 *   OS whenever it likes (and on clean shutdown).
 * - `'interval'`: `{ intervalMs: 200 }` (the topology file's spelling).
 */
export type FsyncPolicy = FsyncMode | { intervalMs: number };

/** `default`: extensions and extra JSON fields on; `stock`: byte-for-byte like a stock Walrus node. */
export type CompatMode = 'default' | 'stock';

export interface BrokerOptions {
  /** Interface to bind. @default '127.0.0.1' */
  host?: string;
  /** TCP port; 0 picks a free one. @default 9091 */
  port?: number;
  /** Directory for segment and cursor files. Omit for a memory-only node (nothing survives close). */
  dataDir?: string;
  /** Wire compatibility mode. @default 'default' */
  compat?: CompatMode;
  /** Durability of appends. @default { intervalMs: 200 } */
  fsync?: FsyncPolicy;
  /** Entries per segment before it is sealed, like `WALRUS_MAX_SEGMENT_ENTRIES`. @default 1_000_000 */
  segmentEntries?: number;
  /** Connections served at once; more are closed on accept. @default 4096 */
  maxConnections?: number;
  /**
   * Persist each topic's shared read cursor with every group commit, so a
   * restart does not deliver consumed entries again (Walrus's
   * `ReadConsistency::StrictlyAtOnce`). `false` keeps cursors in memory like
   * the stock node: a restart replays topics from the start.
   * @default true
   */
  persistCursors?: boolean;
  /** Node id reported in STATE and METRICS. @default 1 */
  nodeId?: number;
  /**
   * Releases a BATCH_LEASE lease this long after it was handed out even
   * though its connection is still open (a stuck reader), so its entries go
   * to the next reader. 0 = a lease lasts as long as its connection (TCP
   * keepalive still detects vanished peers).
   * @default 0
   */
  leaseTimeoutMs?: number;
  /**
   * Users file (`name:scrypt-hash` lines, written by `walrus-stream broker
   * adduser`): once it lists a user, every connection must `AUTH` first.
   * `ADDUSER` adds to it. Required to bind beyond loopback (or `insecure`).
   * @default undefined (no users: every connection is served)
   */
  users?: string;
  /** Bind a non-loopback address without users (warned on every start). @default false */
  insecure?: boolean;
  /** Serve TLS instead of plain TCP, with this PEM certificate chain and key. @default undefined (plain TCP) */
  tls?: { cert: string | Uint8Array; key: string | Uint8Array };
  /** Wait before answering a failed `AUTH`, to slow online password guessing. @default 500 */
  authFailureDelayMs?: number;
}

export interface ResolvedBrokerOptions {
  host: string;
  port: number;
  dataDir: string | undefined;
  compat: CompatMode;
  fsync: 'always' | 'never' | { intervalMs: number };
  segmentEntries: number;
  maxConnections: number;
  persistCursors: boolean;
  nodeId: number;
  leaseTimeoutMs: number;
  users: string | undefined;
  insecure: boolean;
  /** Whether TLS is on (the key itself is not kept in the options). */
  tls: boolean;
  authFailureDelayMs: number;
}

export const BROKER_DEFAULTS = {
  host: '127.0.0.1',
  port: 9091,
  compat: 'default',
  fsync: { intervalMs: 200 },
  segmentEntries: 1_000_000,
  maxConnections: 4096,
  persistCursors: true,
  nodeId: 1,
  leaseTimeoutMs: 0,
  authFailureDelayMs: 500,
} as const;

function invalid(field: string, problem: string): WalrusError {
  return new WalrusError('CONFIG_INVALID', `Invalid broker option ${field}: ${problem}.`, { context: { field } });
}

function positiveInt(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function resolveBrokerOptions(options: BrokerOptions = {}): ResolvedBrokerOptions {
  const compat = options.compat ?? BROKER_DEFAULTS.compat;
  if (compat !== 'default' && compat !== 'stock') throw invalid('compat', `expected "default" or "stock", got ${JSON.stringify(compat)}`);
  const given = options.fsync ?? BROKER_DEFAULTS.fsync;
  const fsync = given === 'interval' ? BROKER_DEFAULTS.fsync : given;
  if (fsync !== 'always' && fsync !== 'never') {
    if (typeof fsync !== 'object' || fsync === null) throw invalid('fsync', `expected "always", "never", "interval" or { intervalMs }, got ${JSON.stringify(fsync)}`);
    positiveInt('fsync.intervalMs', fsync.intervalMs, 1, 3_600_000);
  }
  const host = options.host ?? BROKER_DEFAULTS.host;
  if (typeof host !== 'string' || host.length === 0) throw invalid('host', 'expected a non-empty string');
  if (options.dataDir !== undefined && (typeof options.dataDir !== 'string' || options.dataDir.length === 0)) {
    throw invalid('dataDir', 'expected a non-empty path');
  }
  if (options.users !== undefined && (typeof options.users !== 'string' || options.users.length === 0)) throw invalid('users', 'expected the path of a users file');
  const tls = options.tls;
  if (tls !== undefined && (typeof tls !== 'object' || tls === null || !tls.cert || !tls.key)) throw invalid('tls', 'expected { cert, key } with PEM text');
  return {
    host,
    port: positiveInt('port', options.port ?? BROKER_DEFAULTS.port, 0, 65_535),
    dataDir: options.dataDir,
    compat,
    fsync: typeof fsync === 'object' ? { intervalMs: fsync.intervalMs } : fsync,
    segmentEntries: positiveInt('segmentEntries', options.segmentEntries ?? BROKER_DEFAULTS.segmentEntries, 1, 2 ** 40),
    maxConnections: positiveInt('maxConnections', options.maxConnections ?? BROKER_DEFAULTS.maxConnections, 1, 1_000_000),
    persistCursors: options.persistCursors ?? BROKER_DEFAULTS.persistCursors,
    nodeId: positiveInt('nodeId', options.nodeId ?? BROKER_DEFAULTS.nodeId, 0, 2 ** 53 - 1),
    leaseTimeoutMs: positiveInt('leaseTimeoutMs', options.leaseTimeoutMs ?? BROKER_DEFAULTS.leaseTimeoutMs, 0, 2 ** 31 - 1),
    users: options.users,
    insecure: options.insecure === true,
    tls: tls !== undefined,
    authFailureDelayMs: positiveInt('authFailureDelayMs', options.authFailureDelayMs ?? BROKER_DEFAULTS.authFailureDelayMs, 0, 60_000),
  };
}
