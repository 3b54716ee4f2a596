import { SCOPE_SEPARATOR } from '../model/names.js';

/**
 * Sub-keys by scope: `cust-1@0000000000060000` is listed under `cust-1`
 * (and, for keys with several `@`, under each prefix ending before one).
 *
 * Why: the runtime preloads `key` and `key@...` for every record it
 * dispatches. Answering that from a sorted key list would re-sort the whole
 * store after every new key (counting by key adds keys all the time); this
 * index answers it in time proportional to the key's own entries.
 */
export class ScopeIndex {
  #children = new Map<string, Scope>();

  add(key: string): void {
    for (let at = key.indexOf(SCOPE_SEPARATOR, 1); at !== -1; at = key.indexOf(SCOPE_SEPARATOR, at + 1)) {
      const scope = key.slice(0, at);
      let entry = this.#children.get(scope);
      if (entry === undefined) {
        entry = { keys: new Set(), pending: undefined };
        this.#children.set(scope, entry);
      }
      entry.keys.add(key);
    }
  }

  remove(key: string): void {
    for (let at = key.indexOf(SCOPE_SEPARATOR, 1); at !== -1; at = key.indexOf(SCOPE_SEPARATOR, at + 1)) {
      const scope = key.slice(0, at);
      const entry = this.#children.get(scope);
      if (entry === undefined) continue;
      entry.keys.delete(key);
      if (entry.keys.size === 0) this.#children.delete(scope);
    }
  }

  /** Keys under `scope@` (possibly including ones whose value is a staged delete: callers filter). */
  children(scope: string): Iterable<string> {
    return this.#children.get(scope)?.keys ?? [];
  }

  /**
   * The staged changes not yet committed that wrote under `scope@`, by id,
   * once MemoryState tracks them for the scope (`track`; a scope with few
   * entries is not tracked: walking them costs less). It lives as long as the
   * scope has keys — a staged key is in the index until its change commits.
   */
  pending(scope: string): Map<number, object> | undefined {
    return this.#children.get(scope)?.pending;
  }

  /** Starts tracking `scope`'s pending changes with `initial` (undefined when the scope has no keys). */
  track(scope: string, initial: Map<number, object>): Map<number, object> | undefined {
    const entry = this.#children.get(scope);
    if (entry === undefined) return undefined;
    return entry.pending ??= initial;
  }
}

interface Scope {
  keys: Set<string>;
  /** By change id; undefined while not tracked. */
  pending: Map<number, object> | undefined;
}
