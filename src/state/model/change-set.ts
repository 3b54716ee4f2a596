import { WalrusError } from '../../errors/index.js';
import { assertKey, decodeValue, encodeValue, MAX_VALUE_BYTES } from './codec.js';
import { SCOPE_SEPARATOR } from './names.js';
import { checkRangeOptions, inRange, withWrites, type RangeOptions, type StateEntry } from './range.js';

/** Reads the state a change set is built on (the store, or the values shipped to a worker). */
export interface StateReader {
  getBytes(key: string): Uint8Array | undefined;
  /** Entries within `opts` (ignoring `limit`), in key order. */
  rangeBytes(opts: RangeOptions): Array<[string, Uint8Array]>;
}

/** A change set as plain data: what crosses the worker boundary and what the log stores. `null` = delete. */
export type WireWrites = Array<[string, Uint8Array | null]>;


/** What a processor sees as `ctx.state(name)`. */
export interface StateStoreView {
  readonly name: string;
  get<T = unknown>(key: string): T | undefined;
  put(key: string, value: unknown): void;
  delete(key: string): void;
  range<T = unknown>(opts?: RangeOptions): Array<StateEntry<T>>;
}

/**
 * The pending writes of one record's processing. Reads see the change set's
 * own writes first, then the base state; nothing is visible to other records
 * or durable until the store commits it, and then all of it at once.
 *
 * With a `scope` (the record key), only that key and keys starting with
 * `scope@` may be touched. That is what makes key ordering sufficient for
 * correctness: two records with different keys can never touch the same
 * entry, so running them concurrently cannot race.
 */
export class ChangeSet implements StateStoreView {
  readonly name: string;
  readonly scope: string | undefined;
  /**
   * In a worker, for the store of a windowed `aggregate:` step: the step's
   * stream time as the coordinator knew it when it sent the record
   * (src/runtime/state/stream-time.ts); undefined elsewhere.
   */
  stepStreamTime: number | undefined = undefined;
  #base: StateReader;
  #writes = new Map<string, Uint8Array | null>();
  #reads = new Set<string>();

  constructor(name: string, base: StateReader, scope?: string) {
    this.name = name;
    this.#base = base;
    this.scope = scope;
  }

  /** Builds a change set from writes a worker sent back (checked again: the wire is not trusted). */
  static fromWire(name: string, base: StateReader, writes: WireWrites, scope?: string): ChangeSet {
    const set = new ChangeSet(name, base, scope);
    for (const [key, bytes] of ChangeSet.checkWire(name, writes, scope)) set.#writes.set(key, bytes);
    return set;
  }

  /**
   * Checks writes a worker sent back (the wire is not trusted): each a
   * `[key, bytes | null]` inside `scope`, within the size limit. Returns them
   * with one write per key (the last), in the order keys were first written.
   */
  static checkWire(name: string, writes: WireWrites, scope?: string): WireWrites {
    if (!Array.isArray(writes)) throw new WalrusError('STATE_STORE_ERROR', `store "${name}": state writes from a worker must be an array of [key, bytes | null]`, { context: { store: name } });
    let seen: Set<string> | undefined;
    let duplicate = false;
    for (const write of writes) {
      const [key, bytes] = Array.isArray(write) ? write : [undefined, undefined];
      checkKey(name, scope, key as string);
      if (bytes !== null && !(bytes instanceof Uint8Array)) {
        throw new WalrusError('STATE_STORE_ERROR', `store "${name}": the write for key "${key}" from a worker is not encoded bytes or null`, { context: { store: name, key } });
      }
      if (bytes !== null && bytes.length > MAX_VALUE_BYTES) {
        throw new WalrusError('STATE_STORE_ERROR', `store "${name}": the value for key "${key}" is ${bytes.length} bytes encoded, above the ${MAX_VALUE_BYTES}-byte limit`, {
          context: { store: name, key, size: bytes.length, limit: MAX_VALUE_BYTES },
        });
      }
      if (writes.length > 1) {
        seen ??= new Set();
        if (seen.has(key as string)) duplicate = true;
        seen.add(key as string);
      }
    }
    if (!duplicate) return writes;
    const last = new Map<string, Uint8Array | null>();
    for (const [key, bytes] of writes) last.set(key, bytes);
    return [...last];
  }

  get<T = unknown>(key: string): T | undefined {
    this.#check(key);
    this.#reads.add(key);
    const bytes = this.#writes.has(key) ? this.#writes.get(key) : this.#base.getBytes(key);
    return bytes == null ? undefined : decodeValue<T>(bytes);
  }

  put(key: string, value: unknown): void {
    this.#check(key);
    this.#writes.set(key, encodeValue(this.name, key, value));
  }

  delete(key: string): void {
    this.#check(key);
    this.#writes.set(key, null);
  }

  range<T = unknown>(options?: RangeOptions): Array<StateEntry<T>> {
    const opts = checkRangeOptions(this.name, options);
    if (opts.limit === 0) return [];
    if (this.scope !== undefined && !this.#rangeInScope(opts)) {
      throw this.#scopeError(`range(${JSON.stringify(opts)})`);
    }
    const base = this.#base.rangeBytes(opts);
    const out: Array<StateEntry<T>> = [];
    let own = false;
    for (const key of this.#writes.keys()) if (inRange(key, opts)) { own = true; break; }
    if (!own) {
      // Nothing this change set wrote is in the range (a windowed step's usual case): the base's entries as they are.
      for (const [key, bytes] of base) {
        this.#reads.add(key);
        out.push({ key, value: decodeValue<T>(bytes) });
        if (opts.limit !== undefined && out.length >= opts.limit) break;
      }
      return out;
    }
    for (const [key, bytes] of withWrites(base, this.#writes, opts)) {
      this.#reads.add(key);
      out.push({ key, value: decodeValue<T>(bytes) });
      if (opts.limit !== undefined && out.length >= opts.limit) break;
    }
    return out;
  }

  /** Number of keys written (puts and deletes). */
  get size(): number {
    return this.#writes.size;
  }

  /** The writes in the order keys were first written. */
  toWire(): WireWrites {
    return [...this.#writes];
  }

  /** Keys read (used to order commits that depend on uncommitted state). */
  readKeys(): Iterable<string> {
    return this.#reads;
  }

  #check(key: string): void {
    checkKey(this.name, this.scope, key);
  }

  #rangeInScope(opts: RangeOptions): boolean {
    const own = this.scope + SCOPE_SEPARATOR;
    // A prefix equal to the record key would also match longer keys ("cust-1" matches "cust-10"), so only `key@...` prefixes are in scope.
    if (opts.prefix !== undefined) return opts.prefix.startsWith(own);
    return opts.start !== undefined && opts.end !== undefined && opts.start >= own && opts.end <= own + '\uffff';
  }

  #scopeError(what: string): WalrusError {
    return scopeError(this.name, this.scope!, what);
  }
}

/** Throws unless `key` is a valid key inside `scope` (the key itself or `scope@...`; anything without a scope). */
function checkKey(name: string, scope: string | undefined, key: string): void {
  assertKey(name, key);
  if (scope === undefined) return;
  if (key === scope || key.startsWith(scope + SCOPE_SEPARATOR)) return;
  throw scopeError(name, scope, `key "${key}"`);
}

function scopeError(name: string, scope: string, what: string): WalrusError {
  return new WalrusError('STATE_STORE_ERROR',
    `store "${name}": ${what} is outside the record's key "${scope}". In key ordering a processor may only touch ` +
    `its record's key and keys starting with "${scope}${SCOPE_SEPARATOR}", so records of other keys can run at the same time safely.`,
    { context: { store: name, key: scope } });
}

/** A state with nothing in it (what `checkWire` validates against: it reads nothing). */
const EMPTY_STATE: StateReader = { getBytes: () => undefined, rangeBytes: () => [] };
