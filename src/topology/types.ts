import type { ModuleCheckOptions } from './validate/isolated-modules.js';
import type { TopologyLimits } from './validate/limits.js';
/**
 * The normalised topology: what `loadTopology` returns once `topology.yaml`
 * has been interpolated, validated and had its defaults applied.
 *
 * Every default is filled in, every duration is a number of milliseconds,
 * every size a number of bytes, every path absolute and every reference
 * resolved, so the runtime never re-interprets the YAML. The YAML language
 * itself (keys, defaults, docs) is defined once, by the zod schema in
 * `schema.ts`; `docs/topology.md` is generated from it.
 */

import type { FsyncMode } from '../util/fsync.js';
import type { AggregateSpec } from '../processor/builtin/aggregate-spec.js';

// The aggregate step's spec is declared next to the processor that runs it
// (processor is the lower layer: the SDK must not import the topology).
export type { AggregateOp, AggregateSpec, AggregateWindowSpec, EventTimeSource } from '../processor/builtin/aggregate-spec.js';

/** Milliseconds. */
export type Millis = number;
/** Bytes. */
export type Bytes = number;

export type Serializer = 'json' | 'msgpack' | 'string' | 'raw';
/** Alias of {@link Serializer}: the name of a built-in serializer. */
export type SerializerName = Serializer;
export type RecordFormat = 'envelope' | 'text';
export type Balancer = 'round-robin' | 'least-outstanding' | 'consistent-hash';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export type CompressionCodec = 'none' | 'gzip' | 'brotli';
export type Ordering = 'key' | 'unordered';
export type Backoff = 'exponential' | 'linear' | 'fixed';

export interface Topology {
  /** Absolute path of the topology file. */
  file: string;
  /** Absolute directory of the topology file; relative paths in it resolve against this. */
  dir: string;
  /** Application name: scopes local state (`stateDir/app`). */
  app: string;
  /** Absolute path of the local state directory (journal, state stores). */
  stateDir: string;
  /** Worker threads: a number, or `auto` (one per available core). */
  workers: number | 'auto';
  cluster: ClusterSpec;
  /** Keyed by source name; `name` repeats the key. Insertion order = file order. */
  sources: Record<string, SourceSpec>;
  processors: Record<string, ProcessorSpec>;
  sinks: Record<string, SinkSpec>;
  /** Keyed state stores by name (docs/state.md). */
  stores: Record<string, StoreSpec>;
  observability: ObservabilitySpec;
  /** Worker thread limits and replacement (schema-runtime.ts). */
  workerPool: WorkerPoolSpec;
  journal: JournalSpec;
}

/** `workerPool:` — sizes in bytes, durations in ms. */
export interface WorkerPoolSpec {
  maxHeap: Bytes;
  timeoutGrace: Millis;
  recycleAfterTasks: number;
  recycleAboveHeap: Bytes;
  maxConsecutiveCrashes: number;
  loadTimeout: Millis;
  /** Batches a worker thread runs at once. */
  tasksPerWorker: number;
}

/** `journal:`. */
export interface JournalSpec {
  /** In the shared fsync vocabulary (util/fsync.ts); the deprecated `batch` is already mapped to `always`. */
  fsync: Exclude<FsyncMode, 'interval'>;
}

/** A keyed state store declared under `stores:`. */
export interface StoreSpec {
  name: string;
  /** Changelog topic (default `<app>-<store>-changelog`). */
  changelog: string;
  /** Partitions of the changelog topic (1 = the topic itself; docs/scaling.md). */
  partitions: number;
  fsync: Exclude<FsyncMode, 'interval'>;
  /** Snapshot once the commit log grows past this. */
  snapshotEvery: Bytes;
  /** Most changelog entries fetched per request during a restore. */
  restoreBatch: number;
}

export interface ClusterSpec {
  /** `host:port` of each Walrus node; empty means "start the embedded node". */
  nodes: string[];
  /** Options of the embedded node (used only when `nodes` is empty). */
  embedded: EmbeddedSpec;
  pool: PoolSpec;
  retry: ClientRetrySpec;
  breaker: BreakerSpec;
  balancer: Balancer;
  requestTimeout: Millis;
  connectTimeout: Millis;
  /** Credentials for nodes that require AUTH; the password is not enumerable (never printed). */
  auth?: { username: string; password: string } | undefined;
  /** TLS to the nodes; file paths are absolute. */
  tls?: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined; serverName?: string | undefined } | undefined;
}

export interface EmbeddedSpec {
  /** Absolute path of the node's data directory. */
  dataDir: string;
  host: string;
  /** 0 = any free port. */
  port: number;
  fsync: FsyncMode;
  /** Used when `fsync` is `interval`. */
  fsyncInterval: Millis;
  compat: 'default' | 'stock';
  segmentEntries: number;
  segmentBytes: number;
  persistCursors: boolean;
  /** Absolute path of the embedded node's users file. */
  users?: string | undefined;
  insecure: boolean;
}

export interface PoolSpec {
  min: number;
  max: number;
  acquireTimeout: Millis;
  idleTimeout: Millis;
}

export interface ClientRetrySpec {
  retries: number;
  initialDelay: Millis;
  maxDelay: Millis;
  multiplier: number;
}

export interface BreakerSpec {
  failureThreshold: number;
  openDuration: Millis;
  halfOpenAttempts: number;
}

export interface SourceSpec {
  name: string;
  topic: string;
  /** Partitions of the topic (1 = the topic itself; docs/scaling.md). */
  partitions: number;
  format: RecordFormat;
  serializer: Serializer;
  poll: PollSpec;
  /** Records per second; 0 = unlimited. */
  rateLimit: number;
  /** Drop records whose id is among the last `window` seen; 0 = off. */
  dedupe: { window: number };
  /** Set on the internal source of a repartition topic (src/topology/repartition.ts); absent on the topology's own sources. */
  internal?: 'repartition';
}

export interface PollSpec {
  /** Most entries fetched per poll. */
  batchSize: number;
  /** Most bytes fetched per poll (fits one frame). */
  maxBytes: Bytes;
  minInterval: Millis;
  maxInterval: Millis;
}

/** Where a processor reads from: a source, or a named output of another processor. */
export type InputRef =
  | { kind: 'source'; name: string; topic: string }
  | { kind: 'processor'; name: string; output: string };

export interface ProcessorSpec {
  name: string;
  /** The module path as written in the file; `builtin:aggregate` for an aggregate step. */
  module: string;
  /** Absolute path of the module file (the built-in module's for an aggregate step). */
  modulePath: string;
  /** Canonical references: `source` or `processor.output` (a bare processor name becomes `processor.default`). */
  input: string[];
  /** The same references, resolved. */
  inputs: InputRef[];
  /** Named outputs; `['default']` when none are declared. */
  outputs: string[];
  /** Records in flight for this processor. */
  concurrency: number;
  ordering: Ordering;
  batchSize: number;
  /** Per-record timeout. */
  timeout: Millis;
  /** Most outputs one record may produce; past it the record fails with OUTPUT_LIMIT (dead-lettered). */
  maxOutputs: number;
  /** Most bytes of outputs one record may produce; past it the record fails with OUTPUT_LIMIT (dead-lettered). */
  maxOutputBytes: number;
  retry: ProcessorRetrySpec;
  /** Dead-letter topic (default `<first upstream source topic>.dlq`). */
  deadLetter: string;
  /** Passed as-is to the processor as `ctx.config`. */
  config: Record<string, unknown>;
  /** State stores the processor uses (`ctx.state(name)`); non-empty implies `ordering: key`. */
  stores: string[];
  /** Emits records with a key other than its input's: a keyed step after it starts a new stage group. */
  rekey: boolean;
  /** False: the processor runs in a stage group of its own. */
  fuse: boolean;
  /**
   * Present only for a built-in aggregation step (`aggregate:` instead of
   * `module:`); the same object is the step's `config`.
   */
  aggregate?: AggregateSpec;
}

export interface ProcessorRetrySpec {
  /** Total attempts including the first one (1 = no retry). */
  attempts: number;
  backoff: Backoff;
  initialDelay: Millis;
  maxDelay: Millis;
}

/** A named output of a processor. */
export interface OutputRef {
  processor: string;
  output: string;
}

export interface SinkSpec {
  name: string;
  topic: string;
  /** Partitions of the topic (1 = the topic itself; docs/scaling.md). */
  partitions: number;
  input: OutputRef;
  format: RecordFormat;
  serializer: Serializer;
  compression: { codec: CompressionCodec; threshold: Bytes };
  batch: { maxRecords: number; maxBytes: Bytes; linger: Millis };
  /** Set on the internal sink of a repartition topic (src/topology/repartition.ts); absent on the topology's own sinks. */
  internal?: 'repartition';
}

export interface ObservabilitySpec {
  logLevel: LogLevel;
  /** `host:port` of the metrics/health HTTP server, or `false` when disabled. */
  http: string | false;
  /** Credentials for /metrics and /readyz; secrets are not enumerable (never printed). */
  httpAuth?: { token?: string | undefined; username?: string | undefined; password?: string | undefined } | undefined;
  /** Record headers redacted in logs, added to the always-redacted defaults. */
  redactHeaders: string[];
}

/** One problem found in a topology file. */
export interface Diagnostic {
  /** The file as it was given to `loadTopology`. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  message: string;
  severity: 'error' | 'warning';
}

export interface LoadTopologyOptions extends TopologyLimits, ModuleCheckOptions {
  /** Variables for `${VAR}` interpolation. @default process.env */
  env?: Record<string, string | undefined>;
  /**
   * Import every processor module and check it default-exports a processor:
   * `true` each in its own worker thread, bounded in time and heap (a module
   * that exits or hangs at import cannot fake the result); `'in-process'` in
   * this thread, for callers that run the processors in this thread anyway
   * (the test driver), which saves a thread start and a second import per
   * module. @default false
   */
  loadModules?: boolean | 'in-process';
  /** Directory a relative `file` is resolved against (messages keep the name as given). @default process.cwd() */
  cwd?: string;
}

export interface LoadedTopology {
  topology: Topology;
  /** Problems that do not stop the pipeline (unreachable processors, outputs that lead nowhere). */
  warnings: Diagnostic[];
}
