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
import type { SerializedError } from '../../errors/index.js';
import type { LabelledSnapshot } from '../../observability/metrics/worker-snapshot.js';
import type { StatePreload, StateWrites } from '../../state/worker-state.js';

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
 * Prometheus series). The shape is declared once, in observability.
 */
export interface WorkerMetricsSnapshot extends LabelledSnapshot {
  threadId: number;
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

/*
 * Batches and results travel column by column: one array per field instead
 * of one map per record. A map per record makes msgpackr write (and read
 * back) every field name of every record; columns write each name once,
 * collapse what all records share (the source, the encoding, attempt 1,
 * empty headers, no state) to a single value, and carry timestamps and
 * durations as one typed array. At 100k records/s this halved the cost of
 * crossing the thread boundary on both sides (benchmarks/pipeline.bench.ts).
 * The shapes below are private to this file: the rest of the runtime sees
 * WireRecord[] and BatchResult.
 */
const BATCH_V1 = 1;
const RESULT_V1 = 1;

/** All equal (`===`) → that value; otherwise undefined. */
function shared<T>(values: readonly T[]): { value: T } | undefined {
  const first = values[0]!;
  for (let i = 1; i < values.length; i++) if (values[i] !== first) return undefined;
  return { value: first };
}

/** Encodes a batch of records for a ProcessTask (see {@link decodeBatch}). */
export function encodeBatch(records: readonly WireRecord[]): ArrayBuffer {
  const n = records.length;
  const ids = new Array<string>(n);
  const keys = new Array<string | null>(n);
  const values = new Array<unknown>(n);
  const encodings = new Array<string | null>(n);
  // Header objects by reference: records of one entry often share one (its content type), sent once.
  const headers = new Array<number>(n);
  const headerTable: Array<Record<string, string>> = [];
  let lastHeaders: Record<string, string> | undefined;
  let lastIndex = 0;
  const timestamps = new Float64Array(n);
  const sources = new Array<string>(n);
  const attempts = new Array<number>(n);
  const state = new Array<StatePreload[] | 0>(n);
  let anyKey = false, anyHeaders = false, anyAttempt = false, anyState = false;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    ids[i] = r.id;
    if (r.key !== undefined) { keys[i] = r.key; anyKey = true; } else keys[i] = null;
    values[i] = r.value;
    encodings[i] = r.encoding ?? null;
    const h = r.headers;
    if (h === lastHeaders) headers[i] = lastIndex;
    else {
      let empty = true;
      for (const _ in h) { empty = false; break; }
      lastHeaders = h;
      lastIndex = empty ? 0 : headerTable.push(h);
      headers[i] = lastIndex;
      if (!empty) anyHeaders = true;
    }
    timestamps[i] = r.timestamp;
    sources[i] = r.source;
    attempts[i] = r.attempt;
    if (r.attempt !== 1) anyAttempt = true;
    if (r.state !== undefined) { state[i] = r.state; anyState = true; } else state[i] = 0;
  }
  const encoding = n > 0 ? shared(encodings) : undefined;
  const source = n > 0 ? shared(sources) : undefined;
  return encodeWire([
    BATCH_V1, n, ids, anyKey ? keys : null, values,
    encoding ? encoding.value : 0, encoding ? null : encodings,
    anyHeaders ? headers : null, anyHeaders ? headerTable : null, timestamps,
    source ? source.value : null, source ? null : sources,
    anyAttempt ? attempts : null, anyState ? byStore(state, (p) => p.entries) : null,
  ]);
}

/** The records of a ProcessTask's batch, one plain object each (what processors get). */
export function decodeBatch(buffer: ArrayBuffer): WireRecord[] {
  const columns = decodeWire<unknown[]>(buffer);
  if (columns[0] !== BATCH_V1) throw new Error(`unknown batch layout ${String(columns[0])}`);
  const [, n, ids, keys, values, encoding, encodings, headers, headerTable, timestamps, source, sources, attempts, state] = columns as [
    number, number, string[], Array<string | null> | null, unknown[], string | null | 0, Array<string | null> | null,
    number[] | null, Array<Record<string, string>> | null, Float64Array, string | null, string[] | null, number[] | null, StoreColumns | null];
  const records = new Array<WireRecord>(n);
  for (let i = 0; i < n; i++) {
    const enc = encodings ? encodings[i] : encoding;
    // Each record gets its own headers object: a processor may change it.
    const h = headers ? headers[i]! : 0;
    const st = state ? fromStores<StatePreload>(state, i, (store, entries) => ({ store, entries: entries as StatePreload['entries'] })) : undefined;
    // Every record gets the same fields in the same order (one hidden class
    // for the processor's hot path); absent optional fields are undefined.
    records[i] = {
      id: ids[i]!, key: keys?.[i] ?? undefined, value: values[i], headers: h === 0 ? {} : { ...headerTable![h - 1] }, timestamp: timestamps[i]!,
      source: sources ? sources[i]! : source!, attempt: attempts ? attempts[i]! : 1,
      encoding: (enc === null || enc === 0 ? undefined : enc) as WireRecord['encoding'], state: st,
    };
  }
  return records;
}

/** Encodes a ProcessTask's result (see {@link decodeResult}). */
export function encodeResult(result: BatchResult): ArrayBuffer {
  const { results } = result;
  const n = results.length;
  const durations = new Float64Array(n);
  const sunk = new Array<number>(n);
  const outputs = new Array<WireOutput[] | 0>(n);
  const state = new Array<StateWrites[] | 0>(n);
  const errors: Array<number | SerializedError> = [];
  let anySunk = false, anyOutputs = false, anyState = false;
  for (let i = 0; i < n; i++) {
    const r = results[i]!;
    durations[i] = r.durationMs;
    if (!r.ok) { errors.push(i, r.error); sunk[i] = 0; outputs[i] = 0; state[i] = 0; continue; }
    sunk[i] = r.sunk ?? 0;
    if (sunk[i] !== 0) anySunk = true;
    if (r.outputs.length > 0) { outputs[i] = r.outputs; anyOutputs = true; } else outputs[i] = 0;
    if (r.state !== undefined && r.state.length > 0) { state[i] = r.state; anyState = true; } else state[i] = 0;
  }
  return encodeWire([RESULT_V1, n, durations, anySunk ? sunk : null, anyOutputs ? outputs : null,
    anyState ? byStore(state, (w) => w.writes) : null, errors.length > 0 ? errors : null, result.packed, result.metrics ?? null]);
}

/** A ProcessTask's result, one WireResult per record. */
export function decodeResult(buffer: ArrayBuffer): BatchResult {
  const columns = decodeWire<unknown[]>(buffer);
  if (columns[0] !== RESULT_V1) throw new Error(`unknown result layout ${String(columns[0])}`);
  const [, n, durations, sunk, outputs, state, errors, packed, metrics] = columns as [
    number, number, Float64Array, number[] | null, Array<WireOutput[] | 0> | null, StoreColumns | null,
    Array<number | SerializedError> | null, PackedUnit[], WorkerMetricsSnapshot | null];
  const results = new Array<WireResult>(n);
  for (let i = 0; i < n; i++) {
    const out = outputs?.[i];
    const st = state ? fromStores<StateWrites>(state, i, (store, writes) => ({ store, writes: writes as StateWrites['writes'] })) : undefined;
    const r: WireResult = { ok: true, outputs: out ? out : [], sunk: sunk ? sunk[i]! : 0, durationMs: durations[i]! };
    if (st) r.state = st;
    results[i] = r;
  }
  if (errors) for (let k = 0; k < errors.length; k += 2) {
    const i = errors[k] as number;
    results[i] = { ok: false, error: errors[k + 1] as SerializedError, durationMs: durations[i]! };
  }
  const batch: BatchResult = { results, packed };
  if (metrics !== null) batch.metrics = metrics;
  return batch;
}

/**
 * A state column: when every record's list names the same stores in the same
 * order (always, for one processor's batch), the names go once and each
 * record carries only its data per store; otherwise each record's list as is.
 */
type StoreColumns = [names: string[], data: Array<unknown[] | 0>] | [names: null, lists: Array<Array<{ store: string }> | 0>];

function byStore<T extends { store: string }>(lists: ReadonlyArray<T[] | 0>, data: (item: T) => unknown): StoreColumns {
  let names: string[] | undefined;
  let uniform = true;
  for (const list of lists) {
    if (list === 0) continue;
    if (names === undefined) { names = list.map((item) => item.store); continue; }
    if (list.length !== names.length || list.some((item, k) => item.store !== names![k])) { uniform = false; break; }
  }
  if (!uniform || names === undefined) return [null, lists as Array<T[] | 0>];
  return [names, lists.map((list) => (list === 0 ? 0 : list.map(data)))];
}

function fromStores<T>(columns: StoreColumns, i: number, make: (store: string, data: unknown) => T): T[] | undefined {
  const [names, rows] = columns;
  const row = rows[i];
  if (row === undefined || row === 0) return undefined;
  if (names === null) return row as unknown as T[];
  const out = new Array<T>(names.length);
  for (let k = 0; k < names.length; k++) out[k] = make(names[k]!, (row as unknown[])[k]);
  return out;
}
