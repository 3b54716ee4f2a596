import { WalrusError } from '../../errors/index.js';

/**
 * Key ranges. Keys are ordered as JavaScript compares strings (UTF-16 code
 * units), which for ASCII keys is byte order.
 */
export interface RangeOptions {
  /** Only keys starting with this string. */
  prefix?: string;
  /** Only keys `>= start`. */
  start?: string;
  /** Only keys `< end` (exclusive). */
  end?: string;
  /** Stop after this many entries. @default unlimited */
  limit?: number;
}

/** One entry a range returns. */
export interface StateEntry<T> {
  key: string;
  value: T;
}

/**
 * Checks a range's options as a user may pass them (the store API is public,
 * and `ctx.state(...).range()` runs user code): bounds are strings, `limit`
 * a whole number ≥ 0 (or `Infinity`). Before, `limit: -1` returned every
 * entry but the last, `limit: NaN` none, a change set gave one entry for
 * `limit: 0`, and a number as `prefix` failed with a bare TypeError.
 * Returns `opts` (the default `{}` for undefined).
 */
export function checkRangeOptions(store: string, opts: RangeOptions | undefined): RangeOptions {
  if (opts === undefined) return {};
  if (typeof opts === 'object' && opts !== null && (opts.prefix === undefined || typeof opts.prefix === 'string')
    && (opts.start === undefined || typeof opts.start === 'string') && (opts.end === undefined || typeof opts.end === 'string')
    && (opts.limit === undefined || (Number.isInteger(opts.limit) && opts.limit >= 0) || opts.limit === Infinity)) return opts;
  const problem = typeof opts !== 'object' || opts === null ? `the options are ${opts === null ? 'null' : typeof opts}, not an object`
    : (['prefix', 'start', 'end'] as const).filter((k) => opts[k] !== undefined && typeof opts[k] !== 'string').map((k) => `${k} is ${describe(opts[k])}, not a string`)[0]
      ?? `limit is ${describe(opts.limit)}, not a whole number >= 0`;
  throw new WalrusError('STATE_STORE_ERROR', `store "${store}": range(): ${problem}. Pass { prefix?, start?, end? } as strings and limit as a count of entries (leave it out for all)`, {
    retriable: false, context: { store },
  });
}

function describe(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : value === null ? 'null' : `a ${typeof value}`;
}

export function inRange(key: string, opts: RangeOptions): boolean {
  if (opts.prefix !== undefined && !key.startsWith(opts.prefix)) return false;
  if (opts.start !== undefined && key < opts.start) return false;
  if (opts.end !== undefined && key >= opts.end) return false;
  return true;
}

/** The first key a range can contain, for a binary search. */
export function lowerBound(opts: RangeOptions): string {
  const a = opts.prefix ?? '';
  const b = opts.start ?? '';
  return a > b ? a : b;
}

export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `base` (a range's entries, in key order) with the `writes` inside `opts`
 * applied (`null` deletes), still in key order: a range read through writes
 * not stored yet.
 */
export function withWrites(base: Iterable<readonly [string, Uint8Array]>, writes: Iterable<readonly [string, Uint8Array | null]>, opts: RangeOptions): Array<[string, Uint8Array]> {
  const merged = new Map<string, Uint8Array | null>(base);
  let extra = false;
  for (const [key, bytes] of writes) {
    if (!inRange(key, opts)) continue;
    if (!merged.has(key)) extra = true;
    merged.set(key, bytes);
  }
  const keys = extra ? [...merged.keys()].sort(compareKeys) : [...merged.keys()];
  const out: Array<[string, Uint8Array]> = [];
  for (const key of keys) {
    const bytes = merged.get(key);
    if (bytes != null) out.push([key, bytes]);
  }
  return out;
}

/**
 * A sorted view of a Map's keys, rebuilt lazily: inserts and deletes only
 * mark it stale, so a write-heavy workload (counting) never pays for sorting
 * and a range query pays O(n log n) once after a burst of new keys.
 */
export class SortedKeys {
  #keys: string[] = [];
  #stale = true;

  markStale(): void {
    this.#stale = true;
  }

  /** Keys of `source` within `opts`, in order; at most `limit` of them. */
  range(source: Map<string, unknown>, opts: RangeOptions, limit = Infinity): string[] {
    if (this.#stale) {
      this.#keys = [...source.keys()].sort(compareKeys);
      this.#stale = false;
    }
    const keys = this.#keys;
    const from = lowerBound(opts);
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    for (let i = lo; i < keys.length && out.length < limit; i++) {
      const key = keys[i]!;
      if (opts.prefix !== undefined && !key.startsWith(opts.prefix)) break;
      if (opts.end !== undefined && key >= opts.end) break;
      out.push(key);
    }
    return out;
  }
}
