/**
 * Open windows ordered by end time, so closing everything that ends at or
 * before the watermark touches only those windows (not the whole store).
 */
export class WindowIndex {
  #byEnd = new Map<number, Set<string>>();
  /** Distinct end times, ascending. */
  #ends: number[] = [];

  add(end: number, storeKey: string): void {
    let keys = this.#byEnd.get(end);
    if (keys === undefined) {
      keys = new Set();
      this.#byEnd.set(end, keys);
      let lo = 0;
      let hi = this.#ends.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.#ends[mid]! < end) lo = mid + 1;
        else hi = mid;
      }
      this.#ends.splice(lo, 0, end);
    }
    keys.add(storeKey);
  }

  /** Removes and returns the windows with `end <= limit`, ordered by end then key. */
  takeEndingBy(limit: number): Array<{ end: number; storeKey: string }> {
    const out: Array<{ end: number; storeKey: string }> = [];
    let n = 0;
    while (n < this.#ends.length && this.#ends[n]! <= limit) {
      const end = this.#ends[n]!;
      for (const storeKey of [...this.#byEnd.get(end)!].sort()) out.push({ end, storeKey });
      this.#byEnd.delete(end);
      n++;
    }
    if (n > 0) this.#ends.splice(0, n);
    return out;
  }

  get size(): number {
    let total = 0;
    for (const keys of this.#byEnd.values()) total += keys.size;
    return total;
  }
}
