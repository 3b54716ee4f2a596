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

  /** Keys of `source` within `opts`, in order. */
  range(source: Map<string, unknown>, opts: RangeOptions): string[] {
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
    for (let i = lo; i < keys.length; i++) {
      const key = keys[i]!;
      if (opts.prefix !== undefined && !key.startsWith(opts.prefix)) break;
      if (opts.end !== undefined && key >= opts.end) break;
      out.push(key);
    }
    return out;
  }
}
