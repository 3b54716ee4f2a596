import { WalrusError } from '../errors/index.js';
import type { FsyncMode } from '../util/fsync.js';
import type { RecoveryRepair } from './store/recovery-report.js';

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
  /**
   * Bytes per segment file (with a dataDir) at which it is sealed too, even
   * short of `segmentEntries`: retention deletes whole segments, so this
   * bounds what a consumed topic keeps on disk. 0 = entries only, like
   * stock Walrus. @default 67108864 (64 MiB)
   */
  segmentBytes?: number;
  /**
   * Connections served at once. When the node is full, a new connection is
   * still accepted and the connection idle the longest is closed to make
   * room, so idle sockets can never lock clients out.
   * @default 4096
   */
  maxConnections?: number;
  /**
   * Closes a connection on which no byte moved in either direction for this
   * long (abandoned sockets, clients that stopped reading their replies).
   * Client pools reconnect on demand. 0 = never.
   * @default 300000 (5 minutes)
   */
  idleTimeoutMs?: number;
  /**
   * Per connection: reply bytes made but not yet taken by the client (queued
   * for a group commit plus buffered in the socket). At this bound the node
   * stops executing that connection's requests and stops reading from it
   * until the client reads half of it, so a client that pipelines without
   * reading costs at most about this much memory (plus one reply and one
   * read chunk), and other clients are not slowed down.
   * @default 262144 (256 KiB)
   */
  maxUnsentReplyBytes?: number;
  /**
   * Called once per repair start-up recovery made (dropped damaged entries,
   * a cut torn tail, a quarantined segment). Omitted: each repair is a
   * process warning (code `WALRUS_STREAM_RECOVERY`). Not sent across threads:
   * with `startBrokerInWorker` it is called on the caller's thread.
   */
  onRecoveryRepair?: (repair: RecoveryRepair) => void;
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
   * Open BATCH_LEASE leases the node holds at once, over all connections
   * (each connection may hold 4,096). At the bound a BATCH_LEASE gets
   * `ERR too many open leases (<n>) on this node ...` until leases are
   * acknowledged or released. Each open lease costs about 400 bytes.
   * @default 262144
   */
  maxOpenLeases?: number;
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
  segmentBytes: number;
  maxConnections: number;
  idleTimeoutMs: number;
  maxUnsentReplyBytes: number;
  persistCursors: boolean;
  nodeId: number;
  leaseTimeoutMs: number;
  maxOpenLeases: number;
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
  segmentBytes: 64 * 1024 * 1024,
  maxConnections: 4096,
  idleTimeoutMs: 300_000,
  maxUnsentReplyBytes: 256 * 1024,
  persistCursors: true,
  nodeId: 1,
  leaseTimeoutMs: 0,
  maxOpenLeases: 262_144,
  authFailureDelayMs: 500,
} as const;

/** The `walrus-stream broker` flag of each option it has one for: the CLI passes values on, so its errors come from here. */
const FLAGS: Record<string, string> = {
  host: '--host', port: '--port', dataDir: '--data-dir', compat: '--compat', 'fsync.intervalMs': '--fsync',
  segmentEntries: '--segment-entries', segmentBytes: '--segment-bytes', maxConnections: '--max-connections',
  idleTimeoutMs: '--idle-timeout', maxUnsentReplyBytes: '--max-unsent-reply-bytes', leaseTimeoutMs: '--lease-timeout', users: '--users',
};

function invalid(field: string, problem: string): WalrusError {
  // Named both ways: a command-line user never typed `maxUnsentReplyBytes`.
  const flag = FLAGS[field] === undefined ? '' : ` (${FLAGS[field]} of walrus-stream broker)`;
  return new WalrusError('CONFIG_INVALID', `Invalid broker option ${field}: ${problem}${flag}.`, { context: { field } });
}

function positiveInt(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Bounds the topology's `cluster.embedded` keys share (schema-cluster.ts), so validate refuses what the node would. */
export const BROKER_LIMITS = { fsyncIntervalMs: 3_600_000, segmentEntries: 2 ** 40, segmentBytes: 2 ** 48 } as const;

export function resolveBrokerOptions(options: BrokerOptions = {}): ResolvedBrokerOptions {
  const compat = options.compat ?? BROKER_DEFAULTS.compat;
  if (compat !== 'default' && compat !== 'stock') throw invalid('compat', `expected "default" or "stock", got ${JSON.stringify(compat)}`);
  const given = options.fsync ?? BROKER_DEFAULTS.fsync;
  const fsync = given === 'interval' ? BROKER_DEFAULTS.fsync : given;
  if (fsync !== 'always' && fsync !== 'never') {
    if (typeof fsync !== 'object' || fsync === null) throw invalid('fsync', `expected "always", "never", "interval" or { intervalMs }, got ${JSON.stringify(fsync)}`);
    positiveInt('fsync.intervalMs', fsync.intervalMs, 1, BROKER_LIMITS.fsyncIntervalMs);
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
    segmentEntries: positiveInt('segmentEntries', options.segmentEntries ?? BROKER_DEFAULTS.segmentEntries, 1, BROKER_LIMITS.segmentEntries),
    segmentBytes: positiveInt('segmentBytes', options.segmentBytes ?? BROKER_DEFAULTS.segmentBytes, 0, BROKER_LIMITS.segmentBytes),
    maxConnections: positiveInt('maxConnections', options.maxConnections ?? BROKER_DEFAULTS.maxConnections, 1, 1_000_000),
    idleTimeoutMs: positiveInt('idleTimeoutMs', options.idleTimeoutMs ?? BROKER_DEFAULTS.idleTimeoutMs, 0, 2 ** 31 - 1),
    // A floor: one reply is always let through, but a bound of a few bytes would stall after every request.
    maxUnsentReplyBytes: positiveInt('maxUnsentReplyBytes', options.maxUnsentReplyBytes ?? BROKER_DEFAULTS.maxUnsentReplyBytes, 4096, 1 << 30),
    persistCursors: options.persistCursors ?? BROKER_DEFAULTS.persistCursors,
    nodeId: positiveInt('nodeId', options.nodeId ?? BROKER_DEFAULTS.nodeId, 0, 2 ** 53 - 1),
    leaseTimeoutMs: positiveInt('leaseTimeoutMs', options.leaseTimeoutMs ?? BROKER_DEFAULTS.leaseTimeoutMs, 0, 2 ** 31 - 1),
    maxOpenLeases: positiveInt('maxOpenLeases', options.maxOpenLeases ?? BROKER_DEFAULTS.maxOpenLeases, 1, 16_777_216),
    users: options.users,
    insecure: options.insecure === true,
    tls: tls !== undefined,
    authFailureDelayMs: positiveInt('authFailureDelayMs', options.authFailureDelayMs ?? BROKER_DEFAULTS.authFailureDelayMs, 0, 60_000),
  };
}
