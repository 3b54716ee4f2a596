import type { StateStoreView } from '../model/change-set.js';

/**
 * Per-key aggregation helpers over any state view: a worker's `ctx.state(name)`
 * (scoped to the record key) or a coordinator-side change set. Each reads the
 * key's current value, computes the new one, writes it and returns it.
 */

/**
 * Adds `by` to the count of `key` and returns the new count.
 * @example const n = count(ctx.state('orders-per-customer'), record.key!);
 */
export function count(state: StateStoreView, key: string, by = 1): number {
  const next = (state.get<number>(key) ?? 0) + by;
  state.put(key, next);
  return next;
}

/** Combines `value` with the key's current value (the first value is stored as is). */
export function reduce<V>(state: StateStoreView, key: string, value: V, reducer: (current: V, value: V) => V): V {
  const current = state.get<V>(key);
  const next = current === undefined ? value : reducer(current, value);
  state.put(key, next);
  return next;
}

/** Folds `value` into the key's aggregate, starting from `init()` when the key has none. */
export function aggregate<V, A>(
  state: StateStoreView,
  key: string,
  value: V,
  init: () => A,
  aggregator: (aggregate: A, value: V, key: string) => A,
): A {
  const current = state.get<A>(key);
  const next = aggregator(current === undefined ? init() : current, value, key);
  state.put(key, next);
  return next;
}
