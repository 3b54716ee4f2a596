import { WalrusError, serializeError } from '../../errors/index.js';
import { TICK_SOURCE } from '../../processor/stream-time-tick.js';
import { DEFAULT_MAX_OUTPUT_BYTES, headerBytes, outputBytesError } from '../../processor/output-limit.js';
import type { RecordToEncode } from '../../codec/index.js';
import { WritesOverState, foldWrites, type StatePreload, type StateWrites } from '../../state/worker/worker-state.js';
import { SPILL_AFTER, type ExitRecord, type GroupBatchResult, type GroupSpecWire, type MemberStats, type ProcessorSpecWire,
  type SinkWire, type StateUnit, type TaskRecord, type UnitFailure, type WireRecord, type WireResult } from '../wire/messages.js';
import { deriveRecordId, deriveRecordIdBytes, recordIdText } from '../wire/record-ids.js';
import { loadWaitMs, type LoadedProcessor, type LoadedProcessors } from './loaded-processors.js';
import { runRecord } from './run-record.js';
import type { StepClock } from './step-deadlines.js';
import { failedBatch, packOutput } from './result-encoding.js';
import { outputHeaders, withoutOrigin } from './output-checks.js';
import type { SinkBatch, SinkPacker } from './sink-packer.js';
import { builtinsChangedError, checkBuiltins } from './builtins-guard.js';

/** One member to run on one record. `hops`: (member, output position) pairs from the task record. */
interface Step { member: number; record: WireRecord; hops: number[]; changed?: WalrusError }

/** The chain of one task record: everything it set off inside the group. */
interface Chain {
  index: number;
  /** The key the coordinator holds for this record: keyed members run only on records carrying it. */
  held: string | undefined;
  single: boolean;
  /** The task record's headers: an exit that kept them sends none (the coordinator has them). */
  headers: Record<string, string>;
  preload: Map<number, StatePreload[]> | undefined;
  /** Writes of stateful members not yet folded into their preload (a member can run twice in one chain). */
  written: Map<number, StateWrites[][]> | undefined;
  queue: Step[];
  next: number;
  /** A member failed on something of this chain: the records after it in its run do not run. */
  failed?: boolean;
  /** Not run: a record before it in its run failed. */
  deferred?: boolean;
  /** Steps of it went back to the coordinator (see SPILL_AFTER): the records after it in its run do not run. */
  spilled?: boolean;
}

/** The last record of a key so far in the batch: the next record of its run starts once `done` settles. */
interface Tail { chain?: Chain; done?: Promise<void> }

const NO_HOPS: number[] = [];

/** Runs one record through one member (run-record.ts; the test driver passes its own, timed on a virtual clock). */
export type RecordRunner = (loaded: LoadedProcessor, spec: ProcessorSpecWire, record: WireRecord, inFlight: Set<AbortController>) => WireResult | Promise<WireResult>;

/** What a worker does with a group task's records (task-handler.ts; the test driver runs it in its own thread). */
export async function runGroupBatch(o: {
  group: GroupSpecWire; records: TaskRecord[]; processors: LoadedProcessors; inFlight: Set<AbortController>; packer: SinkPacker; run?: RecordRunner;
  /** Tells the pool the task is still moving (its deadline counts again): called between records, at most every half timeout. */
  beat?: () => void;
  /** Where each member's step publishes its own deadline for the pool to enforce (step-deadlines.ts). */
  deadlines?: StepClock;
}): Promise<GroupBatchResult> {
  let loaded;
  try {
    loaded = await Promise.all(o.group.members.map((m) => o.processors.get(m, loadWaitMs(m))));
  } catch (error) {
    // A load failure here (a replacement worker whose `init` fails, a module
    // changed on disk) is not the records' fault: they are retried with
    // backoff, and dead-lettered only if it persists.
    return failedBatch(o.records, { ...serializeError(error), retriable: true });
  }
  return new ChainBatch(o.group, loaded, o.inFlight, o.packer, o.records.length, o.run, o.beat, SPILL_AFTER, o.deadlines).run(o.records);
}

/**
 * Runs a batch through a stage group inside a worker: each task record
 * enters at its entry member, and each output goes on at once to the members
 * of the group that read it (breadth first, so a member sees one record's
 * outputs in the order they were emitted), to sinks (serialized and packed
 * here), or back to the coordinator (an exit) for processors of other groups.
 *
 * Records of one batch run concurrently (key ordering guarantees no two share
 * a key); one record's chain runs member after member. A member that fails is
 * one unit of failure: the coordinator retries that member alone, with the
 * input it had, and nothing upstream runs again. A keyed member runs in the
 * chain only on records whose key is the one the coordinator holds; any other
 * record (an undeclared re-key) exits, so key ordering never depends on a
 * declaration being right.
 */
export class ChainBatch {
  readonly #group: GroupSpecWire;
  readonly #loaded: LoadedProcessor[];
  readonly #inFlight: Set<AbortController>;
  readonly #sinks: SinkBatch;
  readonly #packer: SinkPacker;
  readonly #stats: Array<MemberStats | undefined>;
  readonly #exits: ExitRecord[] = [];
  readonly #failures: UnitFailure[] = [];
  readonly #state: StateUnit[] = [];
  readonly #entryDurations: Float64Array;
  readonly #run: RecordRunner;
  #deferred: number[] | undefined;
  readonly #beat: (() => void) | undefined;
  /** Half the shortest member timeout: how long the records may run one after the other before a beat (0: no timeouts, no beats). */
  readonly #beatMs: number;
  #lastBeat = 0;
  /** Outputs of every member so far in this task (see SPILL_AFTER). */
  #derived = 0;
  readonly #spillAfter: number;
  readonly #deadlines: StepClock | undefined;

  constructor(group: GroupSpecWire, loaded: LoadedProcessor[], inFlight: Set<AbortController>, packer: SinkPacker, size: number, run: RecordRunner = runRecord,
    beat?: () => void, spillAfter = SPILL_AFTER, deadlines?: StepClock) {
    this.#deadlines = deadlines;
    let shortest = 0;
    for (const m of group.members) if (m.timeoutMs > 0 && (shortest === 0 || m.timeoutMs < shortest)) shortest = m.timeoutMs;
    this.#beatMs = shortest / 2;
    this.#beat = shortest > 0 ? beat : undefined;
    this.#lastBeat = performance.now();
    this.#group = group;
    this.#loaded = loaded;
    this.#inFlight = inFlight;
    this.#packer = packer;
    this.#sinks = packer.batch();
    this.#stats = new Array(group.members.length);
    this.#entryDurations = new Float64Array(size);
    this.#run = run;
    this.#spillAfter = spillAfter;
  }

  /**
   * Records of different keys run concurrently (one may await while another
   * runs). Records of a run (`chained`: the coordinator put several records
   * of one key in the batch, in order) run one after the other, each on the
   * state the previous one's chain left, and not at all once one of them
   * failed: they come back `deferred` and are sent again after it.
   */
  run(records: readonly TaskRecord[]): GroupBatchResult | Promise<GroupBatchResult> {
    let pending: Array<Promise<void>> | undefined;
    let tails: Map<string, Tail> | undefined;
    const runs = hasChained(records);
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      let tail: Tail;
      if (record.chained === true && record.key !== undefined && tails?.has(record.key)) {
        const prev = tails.get(record.key)!;
        tail = {};
        if (prev.done === undefined) {
          const chain = tail.chain = this.#follow(i, record, prev.chain!);
          tail.done = chain.deferred ? undefined : this.#drain(chain);
        } else {
          tail.done = prev.done.then(() => {
            const chain = tail.chain = this.#follow(i, record, prev.chain!);
            return chain.deferred ? undefined : this.#drain(chain);
          });
        }
      } else {
        const chain = this.#chain(i, record, record.preload === undefined ? undefined : new Map(record.preload.map((p) => [p.member, p.stores])));
        // Past the task's budget a record not started yet goes back whole (the first one always runs).
        if (i > 0 && this.#derived >= this.#spillAfter) { this.#spill(chain); tail = { chain }; }
        else tail = { chain, done: this.#drain(chain) };
      }
      if (runs && record.key !== undefined) (tails ??= new Map()).set(record.key, tail);
      if (tail.done !== undefined) (pending ??= []).push(tail.done);
    }
    // Built-ins changed after the last step's checks (a timer) may have shaped anything of it: the task fails whole, retried.
    const result = () => {
      const changes = checkBuiltins();
      return changes ? failedBatch(records, serializeError(builtinsChangedError(changes, undefined, undefined, false))) : this.#result();
    };
    return pending === undefined ? result() : Promise.all(pending).then(result);
  }

  #chain(index: number, record: TaskRecord, preload: Map<number, StatePreload[]> | undefined): Chain {
    // A record starts after others ran one after the other (a run, or synchronous processors): past half a
    // timeout since the task started or last said so, it tells the pool it is still moving.
    if (this.#beat !== undefined && index > 0) {
      const now = performance.now();
      if (now - this.#lastBeat > this.#beatMs) { this.#lastBeat = now; this.#beat(); }
    }
    // A chain an earlier task spilled goes on where it stopped; otherwise it starts at the entry member.
    const queue: Step[] = record.resume === undefined ? [{ member: record.entry, record, hops: NO_HOPS }] : record.resume.map((s) => ({
      member: s.member, hops: s.hops,
      record: { id: s.id, key: s.key, value: s.value, headers: s.headers ?? record.headers, timestamp: record.timestamp, source: s.source, attempt: 1, encoding: undefined, state: undefined },
    }));
    return { index, held: record.key, single: record.single, headers: record.headers, preload, written: undefined, queue, next: 0 };
  }

  /** The chain of a record following `prev` in its run: on the state `prev`'s chain left, or deferred if it (or one before it) failed. */
  #follow(index: number, record: TaskRecord, prev: Chain): Chain {
    if (prev.failed === true || prev.deferred === true || prev.spilled === true) {
      const chain = this.#chain(index, record, undefined);
      chain.deferred = true;
      (this.#deferred ??= []).push(index);
      return chain;
    }
    let preload: Map<number, StatePreload[]> | undefined;
    if (prev.preload !== undefined) {
      for (const member of [...prev.preload.keys()]) this.#stateOf(prev, member);
      preload = new Map(prev.preload);
    }
    return this.#chain(index, record, preload);
  }

  #drain(chain: Chain): Promise<void> | undefined {
    while (chain.next < chain.queue.length) {
      const step = chain.queue[chain.next]!;
      // A chain's first step in a task always runs (so every task moves its records on); past the task's budget the rest leave.
      if (this.#derived >= this.#spillAfter && chain.next > 0) { this.#spill(chain); return undefined; }
      chain.next += 1;
      const member = step.member;
      if (chain.preload?.has(member)) step.record.state = this.#stateOf(chain, member);
      const spec = this.#group.members[member]!;
      // Published before the step runs (its deadline, and that it holds the thread until its call returns): a step
      // that blocks this thread for good can say nothing afterwards.
      const token = this.#deadlines?.begin(spec.timeoutMs, chain.index) ?? 0;
      let result: WireResult | Promise<WireResult>;
      try {
        result = this.#run(this.#loaded[member]!, spec, step.record, this.#inFlight);
      } catch (error) {
        this.#deadlines?.end(token, chain.index);
        throw error;
      }
      // Right after the call, before any other code of this thread runs: what changed is this step's doing.
      this.#checkBuiltins(step, true);
      if (result instanceof Promise) {
        this.#deadlines?.yielded();
        return result.then((r) => {
          this.#deadlines?.end(token, chain.index);
          this.#checkBuiltins(step, false);
          this.#handle(chain, step, r);
          return this.#drain(chain);
        }, (error: unknown) => {
          this.#deadlines?.end(token, chain.index);
          throw error;
        });
      }
      this.#deadlines?.end(token, chain.index);
      this.#handle(chain, step, result);
    }
    return undefined;
  }

  #handle(chain: Chain, step: Step, result: WireResult): void {
    const { member, record, hops } = step;
    const spec = this.#group.members[member]!;
    if (hops === NO_HOPS) this.#entryDurations[chain.index] = result.durationMs;
    if (step.changed !== undefined) { this.#fail(chain, step, serializeError(step.changed)); return; }
    if (!result.ok) { this.#fail(chain, step, result.error); return; }
    const outputs = result.outputs;
    // Sink records first, and the bytes of outputs that leave the group: an output that can never be written, or
    // cannot cross to another thread (a symbol, a cycle), fails this member on this record before anything of it goes on.
    const ids = new Array<Uint8Array | undefined>(outputs.length);
    let prepared: Array<[SinkWire, RecordToEncode]> | undefined;
    let packed: Array<Uint8Array | undefined> | undefined;
    let bytes = 0; // encoded, against maxOutputBytes: what the coordinator would hold of this step
    const maxBytes = spec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    // The input's key and headers, which every sink entry of an output without its own carries (own ones were
    // counted as emitted): uncounted, 100,000 outputs of a record with a 40 KB header made 5 GB of entries here.
    let keyBytes = -1;
    let headersBytes = 0;
    try {
      for (let j = 0; j < outputs.length && bytes <= maxBytes; j++) {
        const out = outputs[j]!;
        const route = spec.routes[out.output];
        if (route === undefined) continue;
        const key = 'key' in out ? out.key : record.key;
        if (this.#leaves(chain, route.members, route.exits, key)) bytes += ((packed ??= new Array(outputs.length))[j] = packOutput(spec.name, j, out.output, out.value)).byteLength;
        const sinks = route.sinks;
        if (sinks.length === 0) continue;
        const id = ids[j] = deriveRecordIdBytes(record.id, spec.name, j);
        const headers = outputHeaders(out.headers, record.headers);
        for (const sink of sinks) {
          const item = this.#packer.prepare(sink, out.value, id, key, sink.internal ? headers : withoutOrigin(headers), record.timestamp);
          if (keyBytes < 0) { keyBytes = record.key?.length ?? 0; headersBytes = headerBytes(record.headers); }
          bytes += item.value.byteLength + ('key' in out ? 0 : keyBytes) + (out.headers === undefined ? headersBytes : 0);
          (prepared ??= []).push([sink, item]);
        }
      }
      if (bytes > maxBytes) throw outputBytesError(spec.name, record.id, maxBytes, 'as encoded for its sinks and the next stage groups');
    } catch (error) {
      this.#fail(chain, step, { ...serializeError(error), retriable: false });
      return;
    }
    // A getter or toJSON the serializers just ran may have changed them too.
    if (this.#checkBuiltins(step, false)) { this.#fail(chain, step, serializeError(step.changed!)); return; }
    this.#count(member, record, result.durationMs, outputs.length);
    this.#derived += outputs.length;
    if (result.state !== undefined && result.state.length > 0) {
      this.#state.push({ index: chain.index, member, hops, writes: result.state });
      const written = chain.written ??= new Map();
      const list = written.get(member);
      if (list) list.push(result.state);
      else written.set(member, [result.state]);
    }
    if (prepared !== undefined) for (const [sink, item] of prepared) this.#sinks.add(sink, item, chain.index);
    for (let j = 0; j < outputs.length; j++) {
      const out = outputs[j]!;
      const route = spec.routes[out.output];
      if (route === undefined || (route.members.length === 0 && route.exits.length === 0)) continue;
      const sunkId = ids[j];
      const id = sunkId === undefined ? deriveRecordId(record.id, spec.name, j) : recordIdText(sunkId);
      const key = 'key' in out ? out.key : record.key;
      const headers = outputHeaders(out.headers, record.headers);
      const source = `${spec.name}.${out.output}`;
      const next = hops.length === 0 ? [member, j] : [...hops, member, j];
      const bytes = packed?.[j];
      for (const target of route.members) {
        const t = this.#group.members[target]!;
        if (chain.single || (t.keyed && key !== chain.held)) { this.#exit(chain, t.name, id, key, bytes!, headers, source, next); continue; }
        const child: WireRecord = { id, key, value: out.value, headers, timestamp: record.timestamp, source, attempt: 1, encoding: undefined, state: undefined };
        chain.queue.push({ member: target, record: child, hops: next });
      }
      for (const target of route.exits) this.#exit(chain, target, id, key, bytes!, headers, source, next);
    }
  }

  /** Built-ins changed since the last check are put back and charged to `step`, which then fails (builtins-guard.ts); true if so. */
  #checkBuiltins(step: Step, sure: boolean): boolean {
    const changes = checkBuiltins();
    if (changes !== undefined) step.changed ??= builtinsChangedError(changes, this.#group.members[step.member]!.name, step.record.id, sure);
    return changes !== undefined;
  }

  /** True when an output to `members` and `exits` goes back to the coordinator for any of them (it then crosses as bytes). */
  #leaves(chain: Chain, members: readonly number[], exits: readonly string[], key: string | undefined): boolean {
    if (exits.length > 0) return true;
    for (const target of members) if (chain.single || (this.#group.members[target]!.keyed && key !== chain.held)) return true;
    return false;
  }

  /** The chain's queued steps go back to the coordinator as exits marked `spilled`; they resume in this group. */
  #spill(chain: Chain): void {
    chain.spilled = true;
    for (; chain.next < chain.queue.length; chain.next++) {
      const { member, record, hops } = chain.queue[chain.next]!;
      // A task record spilled whole: the coordinator has it (and its encoding) already.
      const value = hops === NO_HOPS ? undefined : record.value;
      this.#exits.push({ index: chain.index, target: this.#group.members[member]!.name, id: record.id, key: record.key, value,
        headers: record.headers === chain.headers ? undefined : record.headers, source: record.source, hops, spilled: true });
    }
  }

  /** An output for a processor of another group (or run alone): its value packed already, as it crosses the coordinator. */
  #exit(chain: Chain, target: string, id: string, key: string | undefined, value: Uint8Array, headers: Record<string, string>, source: string, hops: number[]): void {
    this.#exits.push({ index: chain.index, target, id, key, value, encoding: 'wire', headers: headers === chain.headers ? undefined : headers, source, hops });
  }

  #fail(chain: Chain, step: Step, error: UnitFailure['error']): void {
    const { record } = step;
    chain.failed = true;
    this.#failures.push({
      index: chain.index, member: step.member, hops: step.hops, attempt: record.attempt, error,
      record: step.hops === NO_HOPS ? undefined : { id: record.id, key: record.key, value: record.value, headers: record.headers, source: record.source },
    });
  }

  #count(member: number, record: WireRecord, durationMs: number, emitted: number): void {
    let stats = this.#stats[member];
    if (stats === undefined) stats = this.#stats[member] = { member, processed: 0, dropped: 0, emitted: 0, busyMs: 0, durations: [] };
    stats.emitted += emitted;
    // A stream-time tick is not a record: only its outputs count.
    if (record.source === TICK_SOURCE) return;
    stats.processed += 1;
    stats.busyMs += durationMs;
    stats.durations.push(durationMs);
    if (emitted === 0) stats.dropped += 1;
  }

  /** A stateful member's preload, with what it wrote earlier in this chain folded in. */
  #stateOf(chain: Chain, member: number): StatePreload[] {
    const stores = chain.preload!.get(member)!;
    const written = chain.written?.get(member);
    if (written === undefined) return stores;
    chain.written!.delete(member);
    const folded = stores.map((s) => {
      const writes: Array<readonly [string, Uint8Array | null]> = [];
      for (const list of written) for (const w of list) if (w.store === s.store) for (const write of w.writes) writes.push(write);
      if (writes.length === 0) return s;
      return s.remote === undefined ? { ...s, entries: foldWrites(s.entries, writes) } : { ...s, remote: new WritesOverState(s.remote, writes) };
    });
    chain.preload!.set(member, folded);
    return folded;
  }

  #result(): GroupBatchResult {
    const members: MemberStats[] = [];
    for (const s of this.#stats) if (s !== undefined) members.push(s);
    const result: GroupBatchResult = {
      members, entryDurations: this.#entryDurations, exits: this.#exits, failures: this.#failures, state: this.#state,
      packed: this.#sinks.pack(),
    };
    if (this.#deferred !== undefined) result.deferred = this.#deferred.sort((a, b) => a - b);
    return result;
  }
}

/** True when some record of the batch follows another of its key (a run). */
function hasChained(records: readonly TaskRecord[]): boolean {
  for (const r of records) if (r.chained === true) return true;
  return false;
}
