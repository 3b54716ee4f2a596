/**
 * The bytes of the data channel: a task's batch and its result, each one
 * msgpackr buffer of its own, transferred (not copied) between threads.
 *
 * Batches travel column by column: one array per field instead of one map
 * per record. A map per record makes msgpackr write (and read back) every
 * field name of every record; columns write each name once, collapse what
 * all records share (the source, the encoding, attempt 1, the entry member,
 * empty headers, no state) to a single value, and carry timestamps and
 * durations as typed arrays. At 100k records/s this halved the cost of
 * crossing the thread boundary on both sides (benchmarks/pipeline.bench.ts).
 * The layouts are private to this file: the rest of the runtime sees
 * TaskRecord[] and GroupBatchResult (messages.ts).
 */
import { Packr } from 'msgpackr';
import { setHeader } from '../../codec/headers.js';
import { refuseFunction } from '../../codec/serializers.js';
import type { StatePreload, StateWrites } from '../../state/worker/worker-state.js';
import { flattenPreload, preloadData, preloadOf, unflattenPreload, type RemoteReaders } from './preload-blob.js';
import { HOLDS_MAP, HOLDS_PROTO_KEY, protoKeysKept, valueTraits } from './value-traits.js';
import type { ExitRecord, GroupBatchResult, MemberStats, PackedUnit, ResumeStep, StateUnit, TaskRecord, UnitFailure,
  WorkerMetricsSnapshot } from './messages.js';

// `useRecords: false` keeps each buffer self-describing (no shared structures
// between threads); `moreTypes` keeps Set/Date/typed arrays faithful. A
// function has no form outside its thread: it fails the pack (msgpackr would
// write nil, silently).
const packr = new Packr({ useRecords: false, moreTypes: true, writeFunction: refuseFunction });

// Record values must come out as they went in, so that a value is the same
// whether the next processor shares the stage group (it gets the very object)
// or not (docs/pipeline.md, "Values across threads"). The plain packr reads a
// Map back as an object. A Map stays a Map only if objects are written as
// msgpackr records and msgpack maps read back as Maps: this packr, used only
// for values that hold a Map, since records cost several times as much per
// value (2 µs → 10 µs on an order: each buffer defines its records anew;
// +10% worker CPU on benchmarks/pipeline.bench.ts (d) for all values).
const mapPackr = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true, writeFunction: refuseFunction });
/** First byte of a packed value: which packr wrote the rest. */
const PLAIN = 0, WITH_MAPS = 1;
const AFTER_TAG = { start: 1 };
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

/**
 * A record value as bytes of its own (encoding `wire`): how a record leaving
 * its group crosses the coordinator. The coordinator only queues it and sends
 * it on, so it never builds the object (nor its garbage) and never encodes
 * it again; the worker of the next group unpacks it ({@link unpackValue}).
 */
export function packValue(value: unknown): Uint8Array {
  const traits = valueTraits(value);
  const maps = (traits & HOLDS_MAP) !== 0;
  const view = (maps ? mapPackr : packr).pack((traits & HOLDS_PROTO_KEY) === 0 ? value : protoKeysKept(value));
  // A copy (pack() returns a view into msgpackr's reused buffer), behind the byte that names the packr.
  const bytes = new Uint8Array(view.byteLength + 1);
  bytes[0] = maps ? WITH_MAPS : PLAIN;
  bytes.set(view, 1);
  return bytes;
}

/** The value `packValue` packed. */
export function unpackValue(bytes: Uint8Array): unknown {
  return (bytes[0] === WITH_MAPS ? mapPackr : packr).unpack(bytes, AFTER_TAG);
}

const BATCH_V2 = 2;
const RESULT_V2 = 2;

/** All equal (`===`) → that value; otherwise undefined. */
function shared<T>(values: readonly T[]): { value: T } | undefined {
  const first = values[0]!;
  for (let i = 1; i < values.length; i++) if (values[i] !== first) return undefined;
  return { value: first };
}

/**
 * Headers cross as flat `[name, value, ...]` lists, as in the envelope: as a
 * msgpack map, msgpackr would rename a `__proto__` header to `__proto_`.
 */
function flatHeaders(headers: Record<string, string>): string[] {
  const flat: string[] = [];
  for (const name in headers) flat.push(name, headers[name]!);
  return flat;
}

/** The headers object of a flat list: every name an own property, `__proto__` too. */
function unflatHeaders(flat: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) setHeader(headers, flat[i]!, flat[i + 1]!);
  return headers;
}

/** Something that carries headers (a resume step, a failure's record), as it crosses: its headers flat. */
function withFlatHeaders<T extends { headers?: Record<string, string> }>(item: T): T {
  return item.headers === undefined ? item : { ...item, headers: flatHeaders(item.headers) as unknown as Record<string, string> };
}

/** The reverse of {@link withFlatHeaders}, in place (the item was just decoded). */
function withHeaders<T extends { headers?: Record<string, string> }>(item: T): T {
  if (item.headers !== undefined) item.headers = unflatHeaders(item.headers as unknown as string[]);
  return item;
}

/** A resume step as it crosses: headers flat, value packed. */
function crossingStep(step: ResumeStep): ResumeStep {
  return { ...withFlatHeaders(step), value: packValue(step.value) };
}

function landedStep(step: ResumeStep): ResumeStep {
  step.value = unpackValue(step.value as Uint8Array);
  return withHeaders(step);
}

/** Header objects by reference: records of one entry often share one, sent once (flat, see flatHeaders). 0 = empty. */
class HeaderTable {
  readonly table: string[][] = [];
  any = false;
  #last: Record<string, string> | undefined;
  #lastIndex = 0;

  index(h: Record<string, string>): number {
    if (h === this.#last) return this.#lastIndex;
    let empty = true;
    for (const _ in h) { empty = false; break; }
    this.#last = h;
    this.#lastIndex = empty ? 0 : this.table.push(flatHeaders(h));
    if (!empty) this.any = true;
    return this.#lastIndex;
  }
}

/**
 * Encodes a group task's batch (see {@link decodeBatch}). With `share`, a
 * key's entries past REMOTE_AFTER do not travel: `share` registers them and
 * the task carries the handle it returns (state-reads.ts).
 */
export function encodeBatch(records: readonly TaskRecord[], share?: (entries: StatePreload['entries']) => number): ArrayBuffer {
  const n = records.length;
  const ids = new Array<string>(n);
  const keys = new Array<string | null>(n);
  const values = new Array<unknown>(n);
  const encodings = new Array<string | null>(n);
  const headers = new Array<number>(n);
  const table = new HeaderTable();
  const timestamps = new Float64Array(n);
  const sources = new Array<string>(n);
  const attempts = new Array<number>(n);
  const entries = new Array<number>(n);
  const singles = new Array<boolean>(n);
  const preload = new Array<StatePreload[] | 0>(n);
  const chained = new Array<boolean>(n);
  let resume: Array<ResumeStep[] | 0> | null = null;
  let anyKey = false, anyAttempt = false, anyPreload = false, anyChained = false;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    ids[i] = r.id;
    if (r.key !== undefined) { keys[i] = r.key; anyKey = true; } else keys[i] = null;
    // A value in no encoding (a record derived in a group: a retry, a continuation) goes packed, as a value does.
    values[i] = r.encoding === undefined ? packValue(r.value) : r.value;
    encodings[i] = r.encoding ?? null;
    headers[i] = table.index(r.headers);
    timestamps[i] = r.timestamp;
    sources[i] = r.source;
    attempts[i] = r.attempt;
    if (r.attempt !== 1) anyAttempt = true;
    entries[i] = r.entry;
    singles[i] = r.single;
    if (r.preload !== undefined && r.preload.length > 0) { preload[i] = flattenPreload(r.preload, share); anyPreload = true; } else preload[i] = 0;
    chained[i] = r.chained === true;
    if (r.chained === true) anyChained = true;
    if (r.resume !== undefined) (resume ??= new Array<ResumeStep[] | 0>(n).fill(0))[i] = r.resume.map(crossingStep);
  }
  const encoding = n > 0 ? shared(encodings) : undefined;
  const source = n > 0 ? shared(sources) : undefined;
  const entry = n > 0 ? shared(entries) : undefined;
  const single = n > 0 ? shared(singles) : undefined;
  return encodeWire([
    BATCH_V2, n, ids, anyKey ? keys : null, values,
    encoding ? encoding.value : 0, encoding ? null : encodings,
    table.any ? headers : null, table.any ? table.table : null, timestamps,
    source ? source.value : null, source ? null : sources,
    anyAttempt ? attempts : null,
    entry ? entry.value : -1, entry ? null : entries,
    single ? single.value : null, single ? null : singles,
    anyPreload ? byStore(preload, preloadData) : null,
    anyChained ? chained : null, resume,
  ]);
}

/**
 * The records of a group task's batch, one plain object each (what
 * processors get). `remote` makes the reader of entries a task carries by
 * handle (the worker's channel to the coordinator, state-reads.ts).
 */
export function decodeBatch(buffer: ArrayBuffer, remote?: RemoteReaders): TaskRecord[] {
  const columns = decodeWire<unknown[]>(buffer);
  if (columns[0] !== BATCH_V2) throw new Error(`unknown batch layout ${String(columns[0])}`);
  const [, n, ids, keys, values, encoding, encodings, headers, headerTable, timestamps, source, sources, attempts,
    entry, entries, single, singles, preload, chained, resume] = columns as [
    number, number, string[], Array<string | null> | null, unknown[], string | null | 0, Array<string | null> | null,
    number[] | null, string[][] | null, Float64Array, string | null, string[] | null, number[] | null,
    number, number[] | null, boolean | null, boolean[] | null, StoreColumns | null, boolean[] | null | undefined, Array<ResumeStep[] | 0> | null | undefined];
  const records = new Array<TaskRecord>(n);
  const table = headerTable?.map(unflatHeaders);
  for (let i = 0; i < n; i++) {
    const enc = encodings ? encodings[i] : encoding;
    // Each record gets its own headers object: a processor may change it.
    const h = headers ? headers[i]! : 0;
    const flat = preload ? fromStores<StatePreload>(preload, i, preloadOf) : undefined;
    // Every record gets the same fields in the same order (one hidden class
    // for the processor's hot path); absent optional fields are undefined.
    records[i] = {
      id: ids[i]!, key: keys?.[i] ?? undefined, value: enc === null || enc === 0 ? unpackValue(values[i] as Uint8Array) : values[i], headers: h === 0 ? {} : { ...table![h - 1] }, timestamp: timestamps[i]!,
      source: sources ? sources[i]! : source!, attempt: attempts ? attempts[i]! : 1,
      encoding: (enc === null || enc === 0 ? undefined : enc) as TaskRecord['encoding'], state: undefined,
      entry: entries ? entries[i]! : entry, single: singles ? singles[i]! : single!, preload: flat && unflattenPreload(flat, remote),
      chained: chained ? chained[i]! : false,
    };
    const steps = resume?.[i];
    if (steps) records[i]!.resume = steps.map(landedStep);
  }
  return records;
}

/** Encodes a group task's result (see {@link decodeResult}). */
export function encodeResult(result: GroupBatchResult): ArrayBuffer {
  const exits = result.exits;
  const m = exits.length;
  const table = new HeaderTable();
  const xIndex = new Array<number>(m), xTarget = new Array<string>(m), xId = new Array<string>(m), xKey = new Array<string | null>(m);
  const xValue = new Array<unknown>(m), xHeaders = new Array<number>(m), xSource = new Array<string>(m), xHops = new Array<number[]>(m);
  let anyKey = false, anyHeaders = false;
  let spilled: number[] | null = null;
  for (let i = 0; i < m; i++) {
    const x = exits[i]!;
    if (x.spilled === true) (spilled ??= []).push(i);
    // A record leaving the group goes as bytes (see packValue), and so does a spilled step (unpacked by the coordinator, which sends it back).
    xIndex[i] = x.index; xTarget[i] = x.target; xId[i] = x.id; xValue[i] = x.encoding === 'wire' ? x.value : packValue(x.value);
    xSource[i] = x.source; xHops[i] = x.hops;
    if (x.key !== undefined) { xKey[i] = x.key; anyKey = true; } else xKey[i] = null;
    if (x.headers === undefined) xHeaders[i] = -1;
    else { xHeaders[i] = table.index(x.headers); anyHeaders = true; }
  }
  const target = m > 0 ? shared(xTarget) : undefined;
  const source = m > 0 ? shared(xSource) : undefined;
  const states = result.state;
  const sIndex = states.map((s) => s.index), sMember = states.map((s) => s.member), sHops = states.map((s) => s.hops);
  const members = result.members.map((s) => [s.member, s.processed, s.dropped, s.emitted, s.busyMs, Float64Array.from(s.durations)]);
  return encodeWire([
    RESULT_V2, members, result.entryDurations,
    m, xIndex, target ? target.value : null, target ? null : xTarget, xId, anyKey ? xKey : null, xValue,
    anyHeaders ? xHeaders : null, anyHeaders ? table.table : null, source ? source.value : null, source ? null : xSource, xHops,
    result.failures.length > 0 ? result.failures.map((f) => (f.record === undefined ? f : { ...f, record: { ...withFlatHeaders(f.record), value: packValue(f.record.value) } })) : null,
    states.length > 0 ? [sIndex, sMember, sHops, byStore(states.map((s) => s.writes), (w) => w.writes)] : null,
    result.packed, result.metrics ?? null, result.deferred !== undefined && result.deferred.length > 0 ? result.deferred : null, spilled,
  ]);
}

/** A group task's result. */
export function decodeResult(buffer: ArrayBuffer): GroupBatchResult {
  const columns = decodeWire<unknown[]>(buffer);
  if (columns[0] !== RESULT_V2) throw new Error(`unknown result layout ${String(columns[0])}`);
  const [, members, entryDurations, m, xIndex, target, xTarget, xId, xKey, xValue, xHeaders, headerTable, source, xSource, xHops,
    failures, states, packed, metrics, deferred, spilled] = columns as [
    number, Array<[number, number, number, number, number, Float64Array]>, Float64Array,
    number, number[], string | null, string[] | null, string[], Array<string | null> | null, unknown[],
    number[] | null, string[][] | null, string | null, string[] | null, number[][],
    UnitFailure[] | null, [number[], number[], number[][], StoreColumns] | null, PackedUnit[], WorkerMetricsSnapshot | null, number[] | null | undefined, number[] | null | undefined];
  const exits = new Array<ExitRecord>(m);
  const table = headerTable?.map(unflatHeaders);
  for (let i = 0; i < m; i++) {
    const h = xHeaders ? xHeaders[i]! : -1;
    const x: ExitRecord = {
      index: xIndex[i]!, target: xTarget ? xTarget[i]! : target!, id: xId[i]!, key: xKey?.[i] ?? undefined, value: xValue[i],
      headers: h === -1 ? undefined : h === 0 ? {} : { ...table![h - 1] }, source: xSource ? xSource[i]! : source!, hops: xHops[i]!,
      encoding: 'wire',
    };
    exits[i] = x;
  }
  if (failures) for (const f of failures) if (f.record !== undefined) { withHeaders(f.record); f.record.value = unpackValue(f.record.value as Uint8Array); }
  if (spilled) for (const i of spilled) if (exits[i] !== undefined) { exits[i]!.spilled = true; exits[i]!.encoding = undefined; exits[i]!.value = unpackValue(exits[i]!.value as Uint8Array); }
  const state: StateUnit[] = [];
  if (states) {
    const [sIndex, sMember, sHops, writes] = states;
    for (let k = 0; k < sIndex.length; k++) {
      state.push({ index: sIndex[k]!, member: sMember[k]!, hops: sHops[k]!,
        writes: fromStores<StateWrites>(writes, k, (store, w) => ({ store, writes: w as StateWrites['writes'] })) ?? [] });
    }
  }
  const result: GroupBatchResult = {
    members: members.map(([member, processed, dropped, emitted, busyMs, durations]): MemberStats =>
      ({ member, processed, dropped, emitted, busyMs, durations: Array.from(durations) })),
    entryDurations, exits, failures: failures ?? [], state, packed,
  };
  if (metrics !== null) result.metrics = metrics;
  if (deferred !== null && deferred !== undefined) result.deferred = deferred;
  return result;
}

/**
 * A state column: when every list names the same stores in the same order
 * (the usual case), the names go once and each row carries only its data per
 * store; otherwise each list as is.
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

