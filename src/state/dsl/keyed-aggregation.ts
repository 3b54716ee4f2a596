import { WalrusError } from '../../errors/index.js';
import type { KeyValueStore } from '../store/key-value-store.js';
import type { StagedChange } from '../model/staged-change.js';
import { aggregate as aggregateInto } from './aggregations.js';

/** A keyed aggregation's result for one record. */
export interface KeyedStep<A> {
  /** The record's change, staged: commit it when the record is released. */
  staged: StagedChange;
  key: string;
  /** The key's aggregate after this record (emit it downstream if you want a changelog-style stream). */
  value: A;
}

export interface KeyedAggregationOptions<V, A> {
  init: () => A;
  aggregate: (aggregate: A, value: V, key: string) => A;
}

/**
 * count / reduce / aggregate by key, run next to the store (coordinator side).
 * Each record's update is staged scoped to its key, so the store orders
 * commits per key and records of different keys never conflict.
 */
export class KeyedAggregation<V, A> {
  readonly store: KeyValueStore;
  #opts: KeyedAggregationOptions<V, A>;

  constructor(store: KeyValueStore, opts: KeyedAggregationOptions<V, A>) {
    this.store = store;
    this.#opts = opts;
  }

  /** Records by key: the aggregate is the number of records seen. */
  static count<V>(store: KeyValueStore): KeyedAggregation<V, number> {
    return new KeyedAggregation<V, number>(store, { init: () => 0, aggregate: (n) => n + 1 });
  }

  /** Combines values of a key with `reducer`; the first value is kept as is. */
  static reduce<V>(store: KeyValueStore, reducer: (current: V, value: V) => V): KeyedAggregation<V, V> {
    const none = Symbol('none');
    return new KeyedAggregation<V, V>(store, {
      init: () => none as unknown as V,
      aggregate: (current, value) => ((current as unknown) === none ? value : reducer(current, value)),
    });
  }

  process(record: { key?: string; value: V }, covers: readonly string[] = []): KeyedStep<A> {
    const key = record.key;
    if (key === undefined || key === '') {
      throw new WalrusError('STATE_STORE_ERROR', `store "${this.store.name}": a keyed aggregation needs a record key; set one when producing (send(value, { key })) or re-key the stream in an earlier processor`, {
        retriable: false, context: { store: this.store.name },
      });
    }
    const cs = this.store.changeSet(key);
    const value = aggregateInto(cs, key, record.value, this.#opts.init, this.#opts.aggregate);
    return { staged: this.store.stage(cs, covers), key, value };
  }
}
