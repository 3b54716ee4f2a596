import type { Logger } from 'pino';
import { TICK_SOURCE } from '../../processor/builtin/aggregate.js';
import { parseWindowKey, type StateWrites } from '../../state/index.js';
import { MAX_EVENT_TIME } from '../../state/dsl/event-time.js';
import type { PartitionedStore } from '../../state/store/partitioned-store.js';
import { decodeValue } from '../../state/model/codec.js';
import type { Topology } from '../../topology/types.js';
import type { SerializedError } from '../../errors/index.js';
import type { Instrumentation } from '../pipeline/instrumentation.js';
import type { Job, StateHooks } from '../coordinator/stage-runner.js';
import type { RuntimeState } from './runtime-state.js';
import type { Ticket } from '../coordinator/ticket.js';

/** Where `windowedAggregate` keeps a key's stream time: `<key>@~stream-time`. */
const STREAM_TIME_SUFFIX = '@~stream-time';

/** A tick on its way: `dispatched` once a worker has it (its stream time is fixed from then on). */
interface TickJob extends Job { record: Job['record'] & { value: number } }

/** One windowed `aggregate:` step. */
interface WindowedStep {
  name: string;
  storeName: string;
  /** The partitions of the step's store this instance owns: its stream time is theirs. */
  store: PartitionedStore;
  /** Window size + grace: a window starting at `s` closes once stream time >= s + closeAfter. */
  closeAfter: number;
  /** The step's stream time: the largest event time of any record it processed (-1: none yet). */
  time: number;
  /** Open windows, and keys' stream times, by store key → close time (those not yet handed to a tick). */
  open: Map<string, number>;
  /** The same windows by close time (lazy deletion: entries not in `open` with that time are skipped). */
  heap: MinHeap;
  /** Ticks queued at the step and not yet dispatched, by key: a later advance just raises their time. */
  queued: Map<string, TickJob>;
}

export interface StreamTimesOptions {
  topology: Topology;
  state: RuntimeState;
  /** Hands a tick to the step's processor runner (no journal, no recovery skip). */
  submit(processor: string, job: Job): void;
  /** A ticket for one tick: no journal seq (nothing to release), counted in flight until it finishes. */
  ticket(processor: string): Ticket;
  logger?: Logger;
  now?: () => number;
}

/**
 * Stream time per windowed `aggregate:` step, across all keys
 * (docs/state.md, "Declarative aggregations in the topology"): the built-in
 * step keeps stream time per key (its decisions depend only on the key's
 * records), so a key that goes quiet would never see its last window close.
 * The coordinator therefore follows each windowed step's stream time — the
 * largest `<key>@~stream-time` any of its results wrote — and an index of
 * the open windows (`<key>@<start>` writes and deletes). Once the step's
 * stream time reaches a window's `end + grace`, the key gets a *tick*: a
 * record with the reserved source `TICK_SOURCE` and the stream time as value,
 * queued at the step behind the key's records already there (key ordering),
 * which moves the key's stream time and closes (emits, deletes) its due
 * windows like a record would. A key's stream time is indexed too: once
 * the step's is size + grace past it, a tick drops it if the key has no
 * window left (so the store keeps open windows, not every key ever seen),
 * and the step's stream time goes with each record for a key without one
 * (builtin/aggregate.ts). A tick has its own ticket without a journal
 * seq: its state change commits before anything counts as finished, like a
 * record's, and `--until-idle` / shutdown wait for it. A crash loses nothing:
 * at start-up the stream time and the index are rebuilt from the store, and
 * windows already due are ticked again (after the journal's unreleased
 * entries were handed out, so they come after the records that were ahead of
 * them).
 */
export class StreamTimes {
  readonly #o: StreamTimesOptions;
  readonly #steps = new Map<string, WindowedStep>();
  #ticks = 0;

  private constructor(options: StreamTimesOptions, steps: WindowedStep[]) {
    this.#o = options;
    for (const step of steps) this.#steps.set(step.name, step);
  }

  /** Undefined when no `aggregate:` step has a window. */
  static create(options: StreamTimesOptions): StreamTimes | undefined {
    const steps: WindowedStep[] = [];
    for (const p of Object.values(options.topology.processors)) {
      const spec = p.aggregate;
      const store = spec?.window ? options.state.stores.get(spec.store) : undefined;
      if (!spec?.window || store === undefined) continue;
      steps.push({
        name: p.name, storeName: spec.store, store, closeAfter: spec.window.size + spec.window.grace,
        time: -1, open: new Map(), heap: new MinHeap(), queued: new Map(),
      });
    }
    return steps.length === 0 ? undefined : new StreamTimes(options, steps);
  }

  /** True for a tick (the coordinator does not count it as a processed record). */
  static isTick(job: Job): boolean {
    return job.record.source === TICK_SOURCE;
  }

  /**
   * A tick failed for good. It is no record, so it is not dead-lettered: it is logged and counted
   * (`walrus_stream_errors_total{component="stream-time"}`), and the key's due windows close with its next
   * record or at the next start (docs/state.md, "Declarative aggregations in the topology").
   */
  static tickFailed(processor: string, job: Job, error: SerializedError, o: { logger?: Logger; instrumentation?: Pick<Instrumentation, 'error'> }): void {
    o.instrumentation?.error('stream-time', error);
    o.logger?.error({ processor, key: job.record.key, streamTime: job.record.value, code: error.code, err: error.message },
      'stream-time tick failed: the key\'s due windows stay open until its next record or the next start (nothing was dead-lettered)');
  }

  /**
   * Call once the journal's unreleased entries have been handed out: reads
   * each step's stream time (the largest key stream time) and open windows
   * from its store, and ticks every key with a window already due.
   */
  start(): void {
    for (const step of this.#steps.values()) {
      for (const { key, value } of step.store.range<unknown>()) {
        if (key.endsWith(STREAM_TIME_SUFFIX)) {
          if (typeof value === 'number' && value > MAX_EVENT_TIME) {
            // Only an earlier version wrote these (from an event time that was not epoch ms): ticking every key to it would fail.
            this.#o.logger?.warn({ processor: step.name, store: step.storeName, key, streamTime: value },
              'a key\'s stream time in the store is after the latest date there is; the step\'s stream time ignores it (that key\'s records will be late: delete its entries to start it afresh)');
          } else if (typeof value === 'number') {
            if (value > step.time) step.time = value;
            this.#index(step, key, value);
          }
          continue;
        }
        const parsed = parseWindowKey(key);
        if (parsed !== undefined) this.#index(step, key, parsed.start);
      }
      this.#o.logger?.debug({ processor: step.name, streamTime: step.time, openWindows: step.open.size }, 'stream time of a windowed aggregate step');
      this.#due(step);
    }
  }

  /** Wraps a windowed step's state hooks to follow its stream time and open windows; others are returned as they are. */
  hooks(processor: string, inner: StateHooks | undefined): StateHooks | undefined {
    const step = this.#steps.get(processor);
    if (step === undefined || inner === undefined) return inner;
    return {
      preload: (job) => {
        // From here on a worker has the tick with its time: a later advance needs a new one.
        if (step.queued.get(job.key!) === job) step.queued.delete(job.key!);
        const list = inner.preload(job);
        // The step's stream time goes with the key's entries: where the key has no stream time of its own, the worker starts from it.
        if (list === undefined || step.time < 0) return list;
        return list.map((p) => (p.store === step.storeName && p.refused === undefined ? { ...p, streamTime: step.time } : p));
      },
      accept: (job, writes, sent) => {
        const refused = inner.accept(job, writes, sent);
        if (refused === undefined && writes !== undefined) this.#observe(step, writes);
        return refused;
      },
    };
  }

  /** Per windowed step: windows and key stream times indexed, and entries in their heap (tests, debugging). */
  indexSizes(): Record<string, { open: number; heap: number }> {
    const out: Record<string, { open: number; heap: number }> = {};
    for (const step of this.#steps.values()) out[step.name] = { open: step.open.size, heap: step.heap.size };
    return out;
  }

  /** What the stream time of each windowed step is (tests, debugging). */
  streamTime(processor: string): number | undefined {
    return this.#steps.get(processor)?.time;
  }

  #observe(step: WindowedStep, writes: StateWrites[]): void {
    for (const w of writes) {
      if (w.store !== step.storeName) continue;
      for (const [key, bytes] of w.writes) {
        if (key.endsWith(STREAM_TIME_SUFFIX)) {
          if (bytes === null) { step.open.delete(key); continue; }
          const t = decodeValue<unknown>(bytes);
          if (typeof t !== 'number') continue;
          if (t > step.time) step.time = t;
          this.#index(step, key, t);
          continue;
        }
        if (bytes === null) { step.open.delete(key); continue; }
        if (step.open.has(key)) continue;
        const parsed = parseWindowKey(key);
        if (parsed !== undefined) this.#index(step, key, parsed.start);
      }
    }
    this.#due(step);
  }

  /** Indexes a window (`start`: its start) or a key's stream time (`start`: its value; due once it is size + grace behind, to be dropped). */
  #index(step: WindowedStep, storeKey: string, start: number): void {
    const close = start + step.closeAfter;
    step.open.set(storeKey, close);
    step.heap.push(close, storeKey);
    // A key's stream time is indexed again with every record that moves it, and the entries it replaced
    // leave the heap only once due: rebuild from `open` when they outnumber the live ones (a busy key made
    // one entry per record for as long as its window, 20,000 for 2 live ones).
    if (step.heap.size > 2 * step.open.size + 64) {
      step.heap = new MinHeap();
      for (const [key, time] of step.open) step.heap.push(time, key);
    }
  }

  /** Ticks every key with a window due at the step's stream time. */
  #due(step: WindowedStep): void {
    const { heap } = step;
    while (heap.size > 0 && heap.peekTime() <= step.time) {
      const [close, storeKey] = heap.pop();
      if (step.open.get(storeKey) !== close) continue; // closed (deleted) meanwhile, or a stale duplicate
      step.open.delete(storeKey);
      this.#tick(step, storeKey.endsWith(STREAM_TIME_SUFFIX) ? storeKey.slice(0, -STREAM_TIME_SUFFIX.length) : parseWindowKey(storeKey)!.key);
    }
  }

  #tick(step: WindowedStep, key: string): void {
    const queued = step.queued.get(key);
    if (queued !== undefined) { queued.record.value = step.time; return; }
    const ticket = this.#o.ticket(step.name);
    const job: TickJob = {
      record: {
        id: `${step.name}~tick~${key}~${++this.#ticks}`, key, value: step.time, headers: {},
        timestamp: (this.#o.now ?? Date.now)(), source: TICK_SOURCE,
      },
      key, attempt: 1, entry: 0,
      meta: { ticket, sourceTopic: '(stream time)', raw: () => JSON.stringify({ tick: step.name, key, streamTime: job.record.value }) },
    };
    step.queued.set(key, job);
    ticket.add();
    this.#o.submit(step.name, job);
    ticket.done();
  }
}

/** A binary min-heap of (time, store key). */
class MinHeap {
  readonly #times: number[] = [];
  readonly #keys: string[] = [];

  get size(): number {
    return this.#times.length;
  }

  peekTime(): number {
    return this.#times[0]!;
  }

  push(time: number, key: string): void {
    const t = this.#times;
    const k = this.#keys;
    let i = t.length;
    t.push(time);
    k.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (t[parent]! <= time) break;
      t[i] = t[parent]!;
      k[i] = k[parent]!;
      i = parent;
    }
    t[i] = time;
    k[i] = key;
  }

  pop(): [number, string] {
    const t = this.#times;
    const k = this.#keys;
    const top: [number, string] = [t[0]!, k[0]!];
    const lastTime = t.pop()!;
    const lastKey = k.pop()!;
    const n = t.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const c = l + 1 < n && t[l + 1]! < t[l]! ? l + 1 : l;
        if (t[c]! >= lastTime) break;
        t[i] = t[c]!;
        k[i] = k[c]!;
        i = c;
      }
      t[i] = lastTime;
      k[i] = lastKey;
    }
    return top;
  }
}
