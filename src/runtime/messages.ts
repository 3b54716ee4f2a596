/**
 * Everything that crosses the thread boundary between the coordinator and a
 * worker, in one file (the piscina `types.ts` / bullmq `ChildCommand` habit).
 *
 * Data channel (piscina): a task carries one batch of records as a msgpackr
 * buffer, transferred (not copied); the result comes back the same way.
 * Control channel (comlink over a MessagePort each worker posts at start):
 * metrics collection, cooperative cancellation, health, close hooks.
 */
import { Packr } from 'msgpackr';
import type { SerializedError } from '../errors/index.js';
import type { StatePreload, StateWrites } from '../state/worker-state.js';

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
  /** When set, `value` is bytes the worker deserializes with this serializer (records straight from a source). */
  encoding?: 'json' | 'msgpack' | 'string' | 'raw';
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
  /** Position among all the record's outputs when it differs from this list's (some were packed into sinks). */
  index?: number;
}

/** What happened to one record of a batch: a failure never affects its neighbours. */
export type WireResult =
  /** `outputs`: those for the coordinator to route; `sunk`: outputs already packed into sink entries. */
  | { ok: true; outputs: WireOutput[]; sunk?: number; durationMs: number; state?: StateWrites[] }
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
  logLevel: string;
  /** The topology's `app`, bound to every log line of the worker. */
  app?: string;
  /** The topology's `observability.redactHeaders`, redacted in the worker's logs besides the defaults. */
  redactHeaders?: string[];
  /** Outputs read only by sinks: the worker serializes and packs them into sink entries. */
  sinks?: Record<string, SinkWire[]>;
}

/** What a worker needs to encode a sink's entries. */
export interface SinkWire {
  name: string;
  topic: string;
  format: 'envelope' | 'text';
  serializer: 'json' | 'msgpack' | 'string' | 'raw';
  compression: 'none' | 'gzip' | 'brotli';
  compressionThreshold: number;
}

/** Entries a worker packed for one sink from the records of one batch. */
export interface PackedUnit {
  sink: string;
  entries: string[];
  /** Batch index of the input record behind each packed output record, in order. */
  records: number[];
  /** Flat pairs (original bytes, compressed bytes), one pair per entry stored compressed; absent when none was. */
  compressed?: number[];
}

/** Loads (and `init`s) a processor in the worker that receives it. */
export interface LoadTask { kind: 'load'; spec: ProcessorSpecWire }
/** Processes a batch: `batch` is `encodeWire(WireRecord[])`. */
export interface ProcessTask {
  kind: 'process'; spec: ProcessorSpecWire; batch: ArrayBuffer;
  /** Announced by the worker when the task starts, so the pool's deadline counts from then (timeout-watchdog.ts). */
  taskId?: number;
}
export type WorkerTask = LoadTask | ProcessTask;

/** Result of a ProcessTask, as `encodeWire(BatchResult)`. */
export type ProcessTaskResult = ArrayBuffer;
/** One result per record (same order as the batch) and the sink entries packed from them. */
export interface BatchResult {
  results: WireResult[];
  packed: PackedUnit[];
  /** The worker's cumulative processor metrics, sent with every result so a worker that dies later loses none of them. */
  metrics?: WorkerMetricsSnapshot;
}
/** Result of a LoadTask. */
export interface LoadTaskResult { threadId: number; loaded: string[] }

/**
 * Processor-defined metrics of one worker since it started: free-form label
 * sets (the observability layer's `fromLabelledSnapshot` turns them into
 * Prometheus series).
 */
export interface WorkerMetricsSnapshot {
  threadId: number;
  counters: Array<{ name: string; labels: Record<string, string>; value: number }>;
  summaries: Array<{ name: string; labels: Record<string, string>; count: number; sum: number }>;
}

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
  /** Runs each loaded processor's `close` hook once. */
  closeProcessors(): Promise<void>;
}

/** The message a worker posts on its parent port at start, carrying its control port. */
export const CONTROL_HELLO = 'walrus-stream.control-hello';
export interface ControlHello { [CONTROL_HELLO]: true; threadId: number; port: import('node:worker_threads').MessagePort }

export function isControlHello(message: unknown): message is ControlHello {
  return typeof message === 'object' && message !== null && (message as Record<string, unknown>)[CONTROL_HELLO] === true;
}

// `useRecords: false` keeps each buffer self-describing (no shared structures
// between threads); `moreTypes` keeps Map/Set/Date/typed arrays faithful.
const packr = new Packr({ useRecords: false, moreTypes: true });

/**
 * msgpackr-encodes `value` into an ArrayBuffer of its own, ready to transfer.
 * (msgpackr returns a view into a reused buffer, so we copy exactly once.)
 */
export function encodeWire(value: unknown): ArrayBuffer {
  const view = packr.pack(value);
  return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer;
}

export function decodeWire<T>(buffer: ArrayBuffer): T {
  return packr.unpack(new Uint8Array(buffer)) as T;
}
