import { createHash } from 'node:crypto';
import { WalrusError } from '../errors/index.js';

/**
 * Ids longer than this are remembered as a SHA-256 digest: a record id is
 * any string its producer chose (up to a whole entry), and the window's
 * memory is `maxIds` × what it keeps per id. 3,000 ids of 30,000
 * characters kept 90 MB of heap; as digests they keep under 1 MB.
 */
export const MAX_KEPT_ID_CHARS = 64;

/**
 * Most ids a window remembers. A JavaScript Set holds at most 2^24
 * (16,777,216) values and the ring is an array of `maxIds` slots: a larger
 * window failed with a RangeError, at its first id (past 2^32-1) or at the
 * id that overfilled the Set. As many as `run --max-in-flight` may hold.
 */
export const MAX_DEDUPE_IDS = 10_000_000;

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
 * `seen(id)` is O(1): a `Set` answers membership and a ring buffer keeps
 * first-seen order, so the oldest id is always at the ring's tail. (Taking
 * the first key of a `Map` is not O(1) in V8 once many keys were deleted:
 * iteration walks over the deleted slots.) An id is remembered from its
 * first sighting; seeing it again does not extend its life, which keeps the
 * window a plain FIFO, and the duplicates of a replay arrive soon anyway.
 * An id longer than {@link MAX_KEPT_ID_CHARS} is kept as its digest.
 *
 * @example
 * const window = new DedupeWindow({ maxIds: 100_000 });
 * if (window.seen(record.id)) return; // duplicate: drop it
 */
export class DedupeWindow {
  readonly #maxIds: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #ids = new Set<string>();
  /** Ring buffers of ids and first-seen times; `#oldest` indexes the oldest of `#ids.size` slots in use. */
  readonly #ring: string[];
  readonly #times: Float64Array;
  #oldest = 0;
  #duplicates = 0;

  constructor(options: DedupeWindowOptions) {
    const { maxIds, maxAgeMs = Number.POSITIVE_INFINITY } = options;
    if (!Number.isInteger(maxIds) || maxIds < 1 || maxIds > MAX_DEDUPE_IDS) {
      throw new WalrusError('CONFIG_INVALID', `DedupeWindow maxIds is ${String(maxIds)}; expected an integer from 1 to ${MAX_DEDUPE_IDS}`, { context: { field: 'maxIds' } });
    }
    if (!(maxAgeMs > 0)) {
      throw new WalrusError('CONFIG_INVALID', `DedupeWindow maxAgeMs is ${String(maxAgeMs)}; expected a positive number of milliseconds`, {
        context: { field: 'maxAgeMs' },
      });
    }
    this.#maxIds = maxIds;
    this.#maxAgeMs = maxAgeMs;
    this.#now = options.now ?? Date.now;
    this.#ring = new Array<string>(maxIds);
    this.#times = new Float64Array(maxAgeMs === Number.POSITIVE_INFINITY ? 0 : maxIds);
  }

  /** True when `id` was seen within the window (a duplicate); otherwise remembers it and returns false. */
  seen(given: string): boolean {
    const id = keptId(given);
    const now = this.#now();
    this.#expire(now);
    if (this.#ids.has(id)) {
      this.#duplicates += 1;
      return true;
    }
    if (this.#ids.size === this.#maxIds) this.#evictOldest();
    const slot = (this.#oldest + this.#ids.size) % this.#maxIds;
    this.#ring[slot] = id;
    if (this.#times.length > 0) this.#times[slot] = now;
    this.#ids.add(id);
    return false;
  }

  /** Ids currently remembered. */
  get size(): number {
    return this.#ids.size;
  }

  /** Duplicates reported by `seen` so far. */
  get duplicates(): number {
    return this.#duplicates;
  }

  clear(): void {
    this.#ids.clear();
    this.#ring.fill('');
    this.#oldest = 0;
  }

  #evictOldest(): void {
    this.#ids.delete(this.#ring[this.#oldest]!);
    this.#ring[this.#oldest] = '';
    this.#oldest = (this.#oldest + 1) % this.#maxIds;
  }

  #expire(now: number): void {
    if (this.#times.length === 0) return;
    while (this.#ids.size > 0 && now - this.#times[this.#oldest]! >= this.#maxAgeMs) this.#evictOldest();
  }
}

/**
 * What a bounded memory of ids keeps for `id`: itself, or when longer than
 * {@link MAX_KEPT_ID_CHARS} its SHA-256 (`#` + 43 base64url characters).
 * Idempotent (a digest is short enough to be kept as it is), so ids kept
 * once can be persisted and read back. A producer could give a short id
 * equal to another id's digest, which makes them duplicates of each other:
 * no more than it can do by repeating an id.
 */
export function keptId(id: string): string {
  return id.length > MAX_KEPT_ID_CHARS ? `#${createHash('sha256').update(id).digest('base64url')}` : id;
}
