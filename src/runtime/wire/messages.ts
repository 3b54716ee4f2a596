/**
 * Everything that crosses the thread boundary between the coordinator and a
 * worker, in one file (the piscina `types.ts` / bullmq `ChildCommand` habit).
 *
 * Data channel (piscina): a task carries one batch of records as a msgpackr
 * buffer, transferred (not copied); the result comes back the same way.
 * Control channel (comlink over a MessagePort each worker posts at start):
 * metrics collection, cooperative cancellation, health, close hooks.
 */
import type { SerializedError } from '../../errors/index.js';
import type { LabelledSnapshot } from '../../observability/metrics/worker-snapshot.js';
import type { StatePreload, StateWrites } from '../../state/worker/worker-state.js';

/** A record on its way into a worker. */
export interface WireRecord {
  id: string;
  key?: string;
  value: unknown;
  headers: Record<string, string>;
  timestamp: number;
  /** Source name, or `processor.output` for chained processors. */
  source: string;
  /** 1-based attempt number. */
  attempt: number;
  /**
   * When set, `value` is bytes the worker deserializes with this serializer
   * (records straight from a source), or, for `wire`, bytes of a record that
   * left another stage group (batch-codec.ts packValue).
   */
  encoding?: 'json' | 'msgpack' | 'string' | 'raw' | 'wire';
  /** A stateful processor's record: its key's entries of each declared store (`ctx.state(name)`). */
  state?: StatePreload[];
}

/** One output a processor produced for one record. */
export interface WireOutput {
  output: string;
  value: unknown;
  /** Absent: the input record's key. */
  key?: string;
  /** Absent: the input record's headers. */
  headers?: Record<string, string>;
}

/** What happened to one record of a batch: a failure never affects its neighbours. */
export type WireResult =
  | { ok: true; outputs: WireOutput[]; durationMs: number; state?: StateWrites[] }
  | { ok: false; error: SerializedError; durationMs: number };

/** Identifies a processor to a worker; sent with every task so any worker can serve it. */
export interface ProcessorSpecWire {
  /** Processor name in the topology. */
  name: string;
  /** Absolute path of the module. */
  module: string;
  config: Record<string, unknown>;
  /** Declared output names (emit checks them). */
  outputs: string[];
  /** Per-record timeout in ms (0 = none). */
  timeoutMs: number;
  /** Most outputs one record may produce (absent: DEFAULT_MAX_OUTPUTS). */
  maxOutputs?: number;
  /** Most bytes of outputs one record may produce (absent: DEFAULT_MAX_OUTPUT_BYTES). */
  maxOutputBytes?: number;
  /** `workerPool.loadTimeout`: how long a batch waits for the processor to load in its thread (0 or absent: no limit but its timeout). */
  loadTimeoutMs?: number;
  logLevel: string;
  /** The topology's `app`, bound to every log line of the worker. */
  app?: string;
  /** The topology's `observability.redactHeaders`, redacted in the worker's logs besides the defaults. */
  redactHeaders?: string[];
}

/** What a worker needs to encode a sink's entries. */
export interface SinkWire {
  name: string;
  topic: string;
  format: 'envelope' | 'text';
  serializer: 'json' | 'msgpack' | 'string' | 'raw';
  compression: 'none' | 'gzip' | 'brotli';
  compressionThreshold: number;
  /** Partitions of the topic (docs/scaling.md): the worker packs per partition when > 1. */
  partitions: number;
  /** A repartition topic's internal sink: its records keep the internal origin header (others have it removed). */
  internal?: true;
}

/** Entries a worker packed for one sink from the records of one batch. */
export interface PackedUnit {
  sink: string;
  /** Partition the entries go to, for a partitioned sink (absent: the topic itself). */
  partition?: number;
  entries: string[];
  /** Batch index of the input record behind each packed output record, in order. */
  records: number[];
  /** Flat pairs (original bytes, compressed bytes), one pair per entry stored compressed; absent when none was. */
  compressed?: number[];
}


/**
 * A stage group as a worker runs it (src/topology/stage-groups.ts): its
 * members, each with where its outputs go. Sent with every task, so any
 * worker — a replacement too — can run any group.
 */
export interface GroupSpecWire {
  name: string;
  members: MemberWire[];
  /** The task's deadline budget: the members' timeouts added up (0 when one has none). */
  timeoutMs: number;
}

/** One member of a stage group. */
export interface MemberWire extends ProcessorSpecWire {
  /** Runs in key ordering (or keeps state): runs in the chain only on records with the key the group holds. */
  keyed: boolean;
  /** Per declared output: who reads it. */
  routes: Record<string, MemberRoute>;
}

/** Where one output of a member goes. */
export interface MemberRoute {
  /** Members of the same group (indexes): run in the chain, in this task. */
  members: number[];
  /** Processors of other groups: the record goes back to the coordinator for them. */
  exits: string[];
  /** Sinks: serialized and packed into entries in the worker. */
  sinks: SinkWire[];
}

/** A record of a group task: a WireRecord plus where it enters the chain. */
export interface TaskRecord extends WireRecord {
  /** Member index it enters by (0, the head, for records from upstream). */
  entry: number;
  /** Run the entry member only: every output goes back to the coordinator (recovery, isolation, tracing). */
  single: boolean;
  /** Entries of the held key for each stateful member the record can reach. */
  preload?: MemberPreload[];
  /**
   * Runs after the previous record of the batch with the same key, on the
   * state that record's chain left (it carries no preload), and not at all
   * once a record of the key failed in this batch (a run, ordering-scheduler.ts).
   */
  chained?: boolean;
  /**
   * The rest of the record's chain, where an earlier task spilled it (see
   * SPILL_AFTER): these steps run, in this order, instead of the entry
   * member; each carries its hops from the task record.
   */
  resume?: ResumeStep[];
}

/** A step of a spilled chain: a member to run on a record derived inside the group. */
export interface ResumeStep {
  member: number;
  hops: number[];
  id: string;
  key?: string;
  value: unknown;
  /** Absent: the task record's. */
  headers?: Record<string, string>;
  source: string;
}

/** The record key's entries of each store one member declared. */
export interface MemberPreload {
  member: number;
  stores: StatePreload[];
}

/** Loads (and `init`s) a processor in the worker that receives it. */
export interface LoadTask { kind: 'load'; spec: ProcessorSpecWire }
/** Runs a batch through a stage group: `batch` is `encodeBatch(TaskRecord[])`. */
export interface ProcessTask {
  kind: 'process'; group: GroupSpecWire; batch: ArrayBuffer;
  /** Announced by the worker when the task starts, so the pool's deadline counts from then (pool/timeout-watchdog.ts). */
  taskId?: number;
  /** Shutdown passed its abort point (pool.abortAll): the worker starts no processor call from now on (worker/shutdown.ts). */
  aborted?: string;
}
export type WorkerTask = LoadTask | ProcessTask;
/** Result of a LoadTask. */
export interface LoadTaskResult { threadId: number; loaded: string[] }

/**
 * What a group task produced, for the whole batch (`index` fields name the
 * input record). A failure never affects neighbours: it is one unit — one
 * member on one record — and everything else of the chain stands.
 */
export interface GroupBatchResult {
  /** Counts of the members that ran. */
  members: MemberStats[];
  /** Per input record: how long its entry member took (ms; spans). */
  entryDurations: Float64Array;
  /** Records for processors outside the group (or a keyed member after an undeclared key change). */
  exits: ExitRecord[];
  failures: UnitFailure[];
  state: StateUnit[];
  /** Entries packed for sinks; `records` are input indexes, one per packed output record. */
  packed: PackedUnit[];
  /** The worker's cumulative processor metrics, when they changed. */
  metrics?: WorkerMetricsSnapshot;
  /** Input indexes of chained records not run because a record of their key failed earlier in the batch (they are sent again). */
  deferred?: number[];
}

/** One member's work in a batch. Ticks (stream-time) count in nothing but `emitted`. */
export interface MemberStats {
  member: number;
  processed: number;
  dropped: number;
  emitted: number;
  busyMs: number;
  /** One per processed record (latency histogram). */
  durations: number[];
}

/**
 * Records one group task may derive (outputs of all its members, to sinks and
 * to members alike) before the steps still queued go back to the
 * coordinator. Inside a fused group outputs multiply member by member — two
 * members of 1,000 outputs each make 1,000,000 records of one input — and a
 * task holds everything it derives until it returns. Past this many, each
 * chain's queued steps leave as exits that resume in the same group under the
 * key the record holds (coordinator/coordinator.ts), run by later tasks of their own, so
 * a task's memory stays near this many records plus one call's outputs
 * (`maxOutputs`). Far above what a batch derives without fan-out (batchSize
 * ≤ 2,000 records through a few members).
 */
export const SPILL_AFTER = 32_768;

/** A derived record leaving the group. Its timestamp is its input record's. */
export interface ExitRecord {
  index: number;
  target: string;
  id: string;
  key?: string;
  value: unknown;
  /** Absent: the input record's (the coordinator's copy, which may carry a trace). */
  headers?: Record<string, string>;
  /** `processor.output`. */
  source: string;
  /** (member, output position) pairs from the entry: the record's state path (runtime-state.ts derive). */
  hops: number[];
  /** A step the task did not run because it had derived enough (SPILL_AFTER): it resumes in the group. */
  spilled?: true;
  /** `wire`: `value` is packed bytes (every exit but a spilled step: the worker packs it when the member emits it, see stage-chain.ts and batch-codec.ts packValue). */
  encoding?: 'wire';
}

/** One member failed on one record. */
export interface UnitFailure {
  index: number;
  member: number;
  /** The member's input; absent when it is the task record itself (the coordinator keeps that one). */
  record?: { id: string; key?: string; value: unknown; headers: Record<string, string>; source: string };
  hops: number[];
  attempt: number;
  error: SerializedError;
}

/** A stateful member's writes for one record. */
export interface StateUnit {
  index: number;
  member: number;
  hops: number[];
  writes: StateWrites[];
}

/**
 * Processor-defined metrics of one worker since it started: free-form label
 * sets (the observability layer's `fromLabelledSnapshot` turns them into
 * Prometheus series). The shape is declared once, in observability.
 */
export interface WorkerMetricsSnapshot extends LabelledSnapshot {
  threadId: number;
  /** With `dropped`: the limit each of those names met first (processor-metrics.ts). */
  droppedWhy?: Readonly<Record<string, MetricDropReason>>;
}

/**
 * Why updates of a processor metric were dropped in a worker: too many label
 * sets for the name (`series`) or in the worker (`worker`), too many label
 * names (`labels`), a label value too long (`value`), too many metric names
 * (`names`), a name too long or not a string (`name`), an update by a value
 * that is not a finite number (`number`) or, for a counter, a negative one
 * (`negative`), or labels that are not strings, numbers or booleans (`labelType`).
 */
export type MetricDropReason = 'series' | 'worker' | 'labels' | 'value' | 'names' | 'name' | 'number' | 'negative' | 'labelType';

export interface WorkerHealth {
  threadId: number;
  uptimeMs: number;
  /** Records currently inside `process`. */
  inFlight: number;
  loaded: string[];
}

/** The API each worker exposes on its control port (through comlink). */
export interface WorkerControl {
  metrics(): WorkerMetricsSnapshot;
  health(): WorkerHealth;
  /** Aborts every in-flight record's signal (shutdown); returns how many. */
  abortAll(reason: string): number;
  /** Runs each loaded processor's `close` hook once, each given `timeoutMs` (default: 4 s). */
  closeProcessors(timeoutMs?: number): Promise<void>;
}

/** The message a worker posts on its parent port at start, carrying its control port. */
export const CONTROL_HELLO = 'walrus-stream.control-hello';
export interface ControlHello {
  [CONTROL_HELLO]: true;
  threadId: number;
  port: import('node:worker_threads').MessagePort;
  /** The worker's step deadlines (worker/step-deadlines.ts): the pool ends a step stuck past its own timeout + grace. */
  deadlines?: SharedArrayBuffer;
  /** The thread's channel for state read on demand (state-reads.ts). */
  reads?: import('./state-reads.js').StateReadChannel;
}

export function isControlHello(message: unknown): message is ControlHello {
  return typeof message === 'object' && message !== null && (message as Record<string, unknown>)[CONTROL_HELLO] === true;
}

export { encodeWire, decodeWire, encodeBatch, decodeBatch, encodeResult, decodeResult, packValue } from './batch-codec.js';
