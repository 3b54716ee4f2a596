import { WalrusError } from '../errors/index.js';

export interface DedupeWindowOptions {
  /** Most ids remembered; the oldest is forgotten first. Size it above the upstream in-flight window. */
  maxIds: number;
  /**
   * Also forget ids first seen longer ago than this (milliseconds).
   * @default Infinity (count bound only)
   */
  maxAgeMs?: number;
  /** Clock seam for tests. @default Date.now */
  now?: () => number;
}

/**
 * A bounded memory of recently seen record ids, for dropping the duplicates
 * at-least-once delivery can produce (a crash replays the in-flight window).
 *
 * `seen(id)` is O(1) amortised: a `Map` keeps first-seen order, so the
 * oldest id is always the first key. An id is remembered from its first
 * sighting; seeing it again does not extend its life, which keeps the
 * window a plain FIFO and duplicates of a replay arrive soon after anyway.
 *
 * @example
 * const window = new DedupeWindow({ maxIds: 100_000 });
 * if (window.seen(record.id)) return; // duplicate: drop it
 */
export class DedupeWindow {
  readonly #maxIds: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #firstSeen = new Map<string, number>();
  #duplicates = 0;

  constructor(options: DedupeWindowOptions) {
    const { maxIds, maxAgeMs = Number.POSITIVE_INFINITY } = options;
    if (!Number.isInteger(maxIds) || maxIds < 1) {
      throw new WalrusError('CONFIG_INVALID', `DedupeWindow maxIds is ${String(maxIds)}; expected an integer ≥ 1`, { context: { field: 'maxIds' } });
    }
    if (!(maxAgeMs > 0)) {
      throw new WalrusError('CONFIG_INVALID', `DedupeWindow maxAgeMs is ${String(maxAgeMs)}; expected a positive number of milliseconds`, {
        context: { field: 'maxAgeMs' },
      });
    }
    this.#maxIds = maxIds;
    this.#maxAgeMs = maxAgeMs;
    this.#now = options.now ?? Date.now;
  }

  /** True when `id` was seen within the window (a duplicate); otherwise remembers it and returns false. */
  seen(id: string): boolean {
    const now = this.#now();
    this.#expire(now);
    if (this.#firstSeen.has(id)) {
      this.#duplicates += 1;
      return true;
    }
    this.#firstSeen.set(id, now);
    if (this.#firstSeen.size > this.#maxIds) this.#firstSeen.delete(this.#firstSeen.keys().next().value!);
    return false;
  }

  /** Ids currently remembered. */
  get size(): number {
    return this.#firstSeen.size;
  }

  /** Duplicates reported by `seen` so far. */
  get duplicates(): number {
    return this.#duplicates;
  }

  clear(): void {
    this.#firstSeen.clear();
  }

  #expire(now: number): void {
    if (this.#maxAgeMs === Number.POSITIVE_INFINITY) return;
    for (const [id, at] of this.#firstSeen) {
      if (now - at < this.#maxAgeMs) break;
      this.#firstSeen.delete(id);
    }
  }
}
