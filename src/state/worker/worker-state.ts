import { WalrusError } from '../../errors/index.js';
import { ChangeSet, type StateReader, type WireWrites } from '../model/change-set.js';
import { compareKeys, inRange, lowerBound, withWrites, type RangeOptions } from '../model/range.js';

/** What the coordinator ships with a task for each store the processor declared: the record key's entries. */
export interface StatePreload {
  store: string;
  /** From `KeyValueStore.preload(recordKey)`. */
  entries: ReadonlyArray<readonly [string, Uint8Array]>;
  /**
   * Set when the record's key may not touch this store here (a key of a
   * partition this instance does not own): why. `ctx.state(store)` then
   * throws it (non-retriable), so the processor fails on that record before
   * it emits anything computed without the key's state.
   */
  refused?: string;
  /**
   * A windowed `aggregate:` step's store: the step's stream time as the
   * coordinator knows it (src/runtime/state/stream-time.ts), for a key that
   * has no open window and so no stream time of its own.
   */
  streamTime?: number;
  /**
   * Set (and `entries` empty) when the key had too many entries to ship:
   * they are read through this, on demand (runtime/wire/state-reads.ts).
   */
  remote?: StateReader;
  /** On the wire, in place of `remote`: the coordinator's handle for the entries, and both ends of them (runtime/wire/state-reads.ts). */
  remoteHandle?: { handle: number; head: ReadonlyArray<readonly [string, Uint8Array]>; tail: ReadonlyArray<readonly [string, Uint8Array]>; headEnd: string };
}

/** What a worker returns per store after processing a record (empty writes are omitted). */
export interface StateWrites {
  store: string;
  writes: WireWrites;
}

/**
 * A read-only state made of preloaded entries (inside a worker, where the
 * store is not). The entries stay one array in key order and are looked up
 * by binary search: a record reads a few of its key's entries (a window, the
 * key's stream time) out of tens (every open window), so a Map of all of
 * them per record cost more to build than the lookups it saved.
 */
export class PreloadedState implements StateReader {
  /** The entries in strictly increasing key order (a preload comes sorted; anything else is sorted once here, the last of equal keys winning). */
  #sorted: ReadonlyArray<readonly [string, Uint8Array]>;

  constructor(entries: ReadonlyArray<readonly [string, Uint8Array]>) {
    this.#sorted = inKeyOrder(entries);
  }

  /** The entries in key order, as a preload (for folding writes into them: {@link foldWrites}). */
  get entries(): ReadonlyArray<readonly [string, Uint8Array]> {
    return this.#sorted;
  }

  getBytes(key: string): Uint8Array | undefined {
    const sorted = this.#sorted;
    const at = lowerIndex(sorted, key);
    return at < sorted.length && sorted[at]![0] === key ? sorted[at]![1] : undefined;
  }

  rangeBytes(opts: RangeOptions): Array<[string, Uint8Array]> {
    const sorted = this.#sorted;
    const out: Array<[string, Uint8Array]> = [];
    for (let i = lowerIndex(sorted, lowerBound(opts)); i < sorted.length; i++) {
      const [k, v] = sorted[i]!;
      if (opts.end !== undefined && k >= opts.end) break;
      if (opts.prefix !== undefined && !k.startsWith(opts.prefix)) {
        if (k > opts.prefix) break; // past every key with the prefix
        continue;
      }
      if (inRange(k, opts)) out.push([k, v]);
    }
    return out;
  }
}

/**
 * `entries` (sorted, as a preload) with `writes` applied in order (`null`
 * deletes), still sorted: the state a later record of the same key sees
 * after an earlier one in the same task wrote (a key run).
 */
export function foldWrites(entries: ReadonlyArray<readonly [string, Uint8Array]>, writes: Iterable<readonly [string, Uint8Array | null]>): Array<readonly [string, Uint8Array]> {
  const sorted = inKeyOrder(entries);
  // A list this worker made (decoded, or folded before) is folded in place: the record it was made for is done,
  // and a key run of n records over a key with many entries made n copies of them.
  let out: Array<readonly [string, Uint8Array]>;
  if (sorted !== entries || marked(entries, OWNED)) out = sorted as Array<readonly [string, Uint8Array]>;
  else {
    out = entries.slice();
    preloadChecks.entriesCopied += out.length;
  }
  for (const [key, bytes] of writes) {
    const at = lowerIndex(out, key);
    const present = at < out.length && out[at]![0] === key;
    if (bytes === null) { if (present) out.splice(at, 1); }
    else if (present) out[at] = [key, bytes];
    else out.splice(at, 0, [key, bytes]);
  }
  return mark(out, OWNED | SORTED);
}

/** `entries`, just decoded from a task (so held by nothing else), marked as the worker's own and, when `sorted`, as sorted. */
export function decodedEntries<T extends ReadonlyArray<readonly [string, Uint8Array]>>(entries: T, sorted: boolean): T {
  return mark(entries, sorted ? OWNED | SORTED : OWNED);
}

/**
 * Entry lists known to be in strictly increasing key order: a preload as
 * `unpackEntries` read it (it checks the order as it decodes), and what
 * `foldWrites` built. Every record of a key run is given such a list, and
 * checking it again per record compared every entry of the key (each open
 * window) for every record.
 */
const SORTED = 1;
/** Entry lists this worker made, that nothing but the preload they are in holds: `foldWrites` changes them in place. */
const OWNED = 2;
/** Where a list's marks are kept: on the array itself (a symbol-keyed property), not in a WeakSet gaining an entry per record. */
const MARKS = Symbol('walrus-stream.preload-marks');

type Marked = { [MARKS]?: number };
const marked = (entries: object, mark: number): boolean => (((entries as Marked)[MARKS] ?? 0) & mark) !== 0;
function mark<T extends object>(entries: T, bits: number): T {
  const had = (entries as Marked)[MARKS];
  if (had !== undefined) (entries as Marked)[MARKS] = had | bits;
  // Not enumerable: the list still compares, copies and serializes as the plain list of entries it is.
  else if (Object.isExtensible(entries)) Object.defineProperty(entries, MARKS, { value: bits, writable: true, configurable: true, enumerable: false });
  return entries;
}

/** What a record's view of a store reads: the shipped entries, or the reader of entries read on demand. */
export function readerOf(preload: StatePreload | undefined): StateReader {
  return preload?.remote ?? new PreloadedState(preload?.entries ?? []);
}

/**
 * `base` with `writes` applied in order (`null` deletes): what a later record
 * of a key run reads when its key's entries are read on demand (the
 * counterpart of {@link foldWrites}).
 */
export class WritesOverState implements StateReader {
  readonly #base: StateReader;
  readonly #writes = new Map<string, Uint8Array | null>();

  constructor(base: StateReader, writes: Iterable<readonly [string, Uint8Array | null]>) {
    // Layers do not pile up: a run's later record layers its writes over the same base.
    const inner = base instanceof WritesOverState ? base : undefined;
    this.#base = inner === undefined ? base : inner.#base;
    if (inner !== undefined) for (const [k, v] of inner.#writes) this.#writes.set(k, v);
    for (const [k, v] of writes) this.#writes.set(k, v);
  }

  getBytes(key: string): Uint8Array | undefined {
    return this.#writes.has(key) ? this.#writes.get(key) ?? undefined : this.#base.getBytes(key);
  }

  rangeBytes(opts: RangeOptions): Array<[string, Uint8Array]> {
    return withWrites(this.#base.rangeBytes(opts), this.#writes, opts);
  }
}

/** `entries`, which the caller built in strictly increasing key order (a store's scope view), marked so: no check per use. */
export function sortedEntries<T extends ReadonlyArray<readonly [string, Uint8Array]>>(entries: T): T {
  return markSorted(entries);
}

/** Marks `entries` as strictly increasing in key order (the caller checked or built it so) and returns it. */
function markSorted<T extends ReadonlyArray<readonly [string, Uint8Array]>>(entries: T): T {
  return mark(entries, SORTED);
}

/**
 * Keys compared to check a preload's order, and entries copied to fold a
 * record's writes into it, since the worker started: with preloads marked
 * sorted and folded in place, none per record (tests read them to see that a
 * record's cost does not grow with its key's entries).
 */
export const preloadChecks = { keysCompared: 0, entriesCopied: 0 };

/** `entries` itself when already in strictly increasing key order, else a sorted copy (the last of equal keys winning). */
function inKeyOrder(entries: ReadonlyArray<readonly [string, Uint8Array]>): ReadonlyArray<readonly [string, Uint8Array]> {
  if (marked(entries, SORTED)) return entries;
  // A caller's own list is checked each time (the caller may change it); a sorted copy made here is marked.
  return isStrictlySorted(entries) ? entries : markSorted([...new Map(entries)].sort((a, b) => compareKeys(a[0], b[0])));
}

function isStrictlySorted(entries: ReadonlyArray<readonly [string, Uint8Array]>): boolean {
  preloadChecks.keysCompared += Math.max(0, entries.length - 1);
  for (let i = 1; i < entries.length; i++) if (!(entries[i - 1]![0] < entries[i]![0])) return false;
  return true;
}

/** The first index whose key is >= `key` (binary search). */
export function lowerIndex(sorted: ReadonlyArray<readonly [string, unknown]>, key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]![0] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The worker side of `ctx.state(name)`: one scoped change set per store,
 * built from the preloaded entries. After `process` returns, `collect()`
 * gives the writes to send back with the result.
 *
 * @example
 * const state = new WorkerStateContext(recordKey, task.state);
 * await processor.process(record, { ...ctx, state: (name) => state.store(name) });
 * result.state = state.collect();
 */
export class WorkerStateContext {
  #recordKey: string;
  #preloads = new Map<string, StatePreload>();
  #open = new Map<string, ChangeSet>();

  constructor(recordKey: string, preloads: StatePreload[]) {
    this.#recordKey = recordKey;
    for (const p of preloads) this.#preloads.set(p.store, p);
  }

  /** The view for store `name`; throws a clear error for a store the processor did not declare. */
  store(name: string): ChangeSet {
    let view = this.#open.get(name);
    if (view) return view;
    const preload = this.#preloads.get(name);
    if (preload?.refused !== undefined) {
      throw new WalrusError('STATE_STORE_ERROR', preload.refused, { retriable: false, context: { store: name, key: this.#recordKey } });
    }
    if (!preload) {
      throw new WalrusError('STATE_STORE_ERROR', `state store "${name}" is not available to this processor; declared stores: ${[...this.#preloads.keys()].join(', ') || '(none)'}. Declare it in the topology under the processor's stores.`, {
        context: { store: name },
      });
    }
    view = new ChangeSet(name, readerOf(preload), this.#recordKey);
    view.stepStreamTime = preload.streamTime;
    this.#open.set(name, view);
    return view;
  }

  collect(): StateWrites[] {
    return [...this.#open.values()].filter((v) => v.size > 0).map((v) => ({ store: v.name, writes: v.toWire() }));
  }
}
