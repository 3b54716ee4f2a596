import { partitionOfKey } from '../../codec/partitioning.js';
import { WalrusError } from '../../errors/index.js';
import type { KeyValueStore } from './key-value-store.js';
import { compareKeys, type RangeOptions, type StateEntry } from '../model/range.js';
import type { StoreStats } from './store-types.js';

/**
 * One logical store made of the partitions this instance owns
 * (docs/scaling.md, "Stateful topologies"). A key belongs to partition
 * `fnv1a32(utf8(key)) % partitions` — the rule writers use to route records
 * to partitioned topics — so the partition a record was read from and the
 * store partition of its key agree, and a key's state lives in exactly one
 * partition. Each partition is a `KeyValueStore` of its own (files under
 * `<storeDir>/p<i>/`, changelog `<changelog>.p<i>`); an unpartitioned store
 * is the one partition 0.
 *
 * Reads over the whole store (`range`, `stats`) merge the owned partitions;
 * a key of a partition this instance does not own has no value here, and
 * writing it is refused (`storeFor`).
 */
export class PartitionedStore {
  readonly name: string;
  /** Partitions of the logical store (1: unpartitioned). */
  readonly partitions: number;
  /** The partitions this instance holds, by index. */
  readonly parts: ReadonlyMap<number, KeyValueStore>;
  /** The only partition, when there is one: the hot path skips the hash. */
  readonly #single: KeyValueStore | undefined;

  constructor(name: string, partitions: number, parts: ReadonlyMap<number, KeyValueStore>) {
    this.name = name;
    this.partitions = partitions;
    this.parts = parts;
    this.#single = partitions === 1 ? parts.get(0) : undefined;
  }

  /** The partition a record key (and everything it writes: the key and `key@...`) belongs to. */
  partitionOf(key: string): number {
    return partitionOfKey(key, this.partitions);
  }

  /** The partition store holding `key`, or undefined when this instance does not own its partition. */
  partFor(key: string): KeyValueStore | undefined {
    return this.#single ?? this.parts.get(partitionOfKey(key, this.partitions));
  }

  /** The partition store holding `key`; throws a non-retriable STATE_STORE_ERROR when its partition is not owned here. */
  storeFor(key: string): KeyValueStore {
    const part = this.partFor(key);
    if (part !== undefined) return part;
    const p = partitionOfKey(key, this.partitions);
    throw new WalrusError('STATE_STORE_ERROR', this.refusal(key)!, { retriable: false, context: { store: this.name, key, partition: p } });
  }

  /** Why a record of `key` may not touch this store here (its partition is not owned), or undefined when it may. */
  refusal(key: string): string | undefined {
    if (this.partFor(key) !== undefined) return undefined;
    const p = partitionOfKey(key, this.partitions);
    return `store "${this.name}": key "${key}" belongs to partition ${p} of ${this.partitions}, which this instance does not own (it owns ${this.#owned()}). ` +
      'Records reach a keyed stateful step only from the partitions of their key: a processor before it changed the key without declaring `rekey: true`, ' +
      'the record was written to a partition by another rule than the key hash, or it was left in this instance\'s journal before --instances changed ' +
      '(stop instances cleanly before changing it). Replay it from the dead-letter topic once fixed.';
  }

  /** The record key's entries (the key and `key@...`) to ship with a task; empty when its partition is not owned (the write is refused later). */
  preload(recordKey: string): ReadonlyArray<readonly [string, Uint8Array]> {
    const part = this.partFor(recordKey);
    return part === undefined ? [] : part.preload(recordKey);
  }

  /**
   * Current value of a stored key (staged changes included); undefined when
   * absent or not owned here. A stored key is in the partition of the
   * *record* key that wrote it (`cust-1@0000000000060000` with `cust-1`),
   * which cannot be read off the stored key when record keys contain `@`,
   * so every owned partition is asked (their keys are disjoint).
   */
  get<T = unknown>(key: string): T | undefined {
    if (this.#single) return this.#single.get<T>(key);
    for (const part of this.parts.values()) {
      const value = part.get<T>(key);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  /** Entries of every owned partition in key order (staged changes included). */
  range<T = unknown>(opts: RangeOptions = {}): Array<StateEntry<T>> {
    if (this.#single) return this.#single.range<T>(opts);
    return merge([...this.parts.values()].map((p) => p.range<T>(opts)), opts.limit);
  }

  /** Committed entries of every owned partition, in key order. */
  committedRange<T = unknown>(opts: RangeOptions = {}): Array<StateEntry<T>> {
    if (this.#single) return this.#single.committedRange<T>(opts);
    return merge([...this.parts.values()].map((p) => p.committedRange<T>(opts)), opts.limit);
  }

  /** True when some owned partition committed record `id` (a record's change lives in its key's partition). */
  hasApplied(id: string): boolean {
    if (this.#single) return this.#single.hasApplied(id);
    for (const part of this.parts.values()) if (part.hasApplied(id)) return true;
    return false;
  }

  /** The runtime released these records durably: every partition may forget them. */
  markReleased(ids: readonly string[]): void {
    for (const part of this.parts.values()) part.markReleased(ids);
  }

  forgetAppliedExcept(keep: (id: string) => boolean): void {
    for (const part of this.parts.values()) part.forgetAppliedExcept(keep);
  }

  /** Committed keys over the owned partitions. */
  get size(): number {
    let n = 0;
    for (const part of this.parts.values()) n += part.size;
    return n;
  }

  /** The owned partitions' counters, summed (`seq`: the largest). */
  stats(): StoreStats {
    const total: StoreStats = { keys: 0, seq: 0, staged: 0, appliedIds: 0, logBytes: 0, commits: 0, flushes: 0, snapshots: 0, publishFailures: 0, dependencyChecks: 0, preloadEntriesCopied: 0 };
    for (const part of this.parts.values()) {
      const s = part.stats();
      for (const k of Object.keys(total) as Array<keyof StoreStats>) total[k] = k === 'seq' ? Math.max(total.seq, s.seq) : total[k] + s[k];
    }
    return total;
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const part of this.parts.values()) await part.close().catch((error: unknown) => errors.push(error));
    if (errors.length > 0) throw errors[0];
  }

  #owned(): string {
    return this.parts.size === 0 ? 'none of them' : `partition${this.parts.size === 1 ? '' : 's'} ${[...this.parts.keys()].join(', ')}`;
  }
}

/** Sorted lists merged into one sorted list (partitions hold disjoint keys). */
function merge<T>(lists: Array<Array<StateEntry<T>>>, limit: number | undefined): Array<StateEntry<T>> {
  const all = lists.flat().sort((a, b) => compareKeys(a.key, b.key));
  return limit === undefined ? all : all.slice(0, limit);
}
