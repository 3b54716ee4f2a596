import { WalrusError } from '../../errors/index.js';
import { ChangeSet, type StateReader, type WireWrites } from '../model/change-set.js';
import { compareKeys, inRange, type RangeOptions } from '../model/range.js';

/** What the coordinator ships with a task for each store the processor declared: the record key's entries. */
export interface StatePreload {
  store: string;
  /** From `KeyValueStore.preload(recordKey)`. */
  entries: ReadonlyArray<readonly [string, Uint8Array]>;
}

/** What a worker returns per store after processing a record (empty writes are omitted). */
export interface StateWrites {
  store: string;
  writes: WireWrites;
}

/** A read-only state made of preloaded entries (inside a worker, where the store is not). */
export class PreloadedState implements StateReader {
  #entries: Map<string, Uint8Array>;
  /** The entries in key order (a preload comes sorted; anything else is sorted once here). */
  #sorted: ReadonlyArray<readonly [string, Uint8Array]>;

  constructor(entries: ReadonlyArray<readonly [string, Uint8Array]>) {
    this.#entries = new Map(entries);
    let sorted = true;
    for (let i = 1; i < entries.length && sorted; i++) sorted = entries[i - 1]![0] < entries[i]![0];
    this.#sorted = sorted ? entries : [...this.#entries].sort((a, b) => compareKeys(a[0], b[0]));
  }

  getBytes(key: string): Uint8Array | undefined {
    return this.#entries.get(key);
  }

  rangeBytes(opts: RangeOptions): Array<[string, Uint8Array]> {
    const out: Array<[string, Uint8Array]> = [];
    for (const [k, v] of this.#sorted) if (inRange(k, opts)) out.push([k, v]);
    return out;
  }
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
    if (!preload) {
      throw new WalrusError('STATE_STORE_ERROR', `state store "${name}" is not available to this processor; declared stores: ${[...this.#preloads.keys()].join(', ') || '(none)'}. Declare it in the topology under the processor's stores.`, {
        context: { store: name },
      });
    }
    view = new ChangeSet(name, new PreloadedState(preload.entries), this.#recordKey);
    this.#open.set(name, view);
    return view;
  }

  collect(): StateWrites[] {
    return [...this.#open.values()].filter((v) => v.size > 0).map((v) => ({ store: v.name, writes: v.toWire() }));
  }
}
