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
  #children = new Map<string, Set<string>>();

  add(key: string): void {
    for (let at = key.indexOf(SCOPE_SEPARATOR, 1); at !== -1; at = key.indexOf(SCOPE_SEPARATOR, at + 1)) {
      const scope = key.slice(0, at);
      let set = this.#children.get(scope);
      if (set === undefined) {
        set = new Set();
        this.#children.set(scope, set);
      }
      set.add(key);
    }
  }

  remove(key: string): void {
    for (let at = key.indexOf(SCOPE_SEPARATOR, 1); at !== -1; at = key.indexOf(SCOPE_SEPARATOR, at + 1)) {
      const scope = key.slice(0, at);
      const set = this.#children.get(scope);
      if (set === undefined) continue;
      set.delete(key);
      if (set.size === 0) this.#children.delete(scope);
    }
  }

  /** Keys under `scope@` (possibly including ones whose value is a staged delete: callers filter). */
  children(scope: string): Iterable<string> {
    return this.#children.get(scope) ?? [];
  }
}
