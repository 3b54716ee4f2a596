import type { StateReader, WireWrites } from '../model/change-set.js';
import { SCOPE_SEPARATOR } from '../model/names.js';
import { compareKeys, SortedKeys, withWrites, type RangeOptions } from '../model/range.js';
import { ScopeIndex } from './scope-index.js';

/** A staged change set as the in-memory state tracks it. */
export interface StagedOwner {
  readonly id: number;
  /** The record key all its writes are in, when checked (see `stage`). */
  readonly scope?: string | undefined;
}

/** The staged writes of an overlay as [key, bytes] pairs (null: deleted). */
function* stagedBytes(overlay: ReadonlyMap<string, { bytes: Uint8Array | null }>): Generator<readonly [string, Uint8Array | null]> {
  for (const [key, staged] of overlay) yield [key, staged.bytes];
}

/**
 * The store's in-memory state: the committed map (exactly what is durable on
 * disk) plus an overlay of staged writes (visible to later records, not yet
 * durable). Snapshots are taken from the committed map only, so a crash can
 * never persist a change whose record was not released.
 */
export class MemoryState implements StateReader {
  readonly committed = new Map<string, Uint8Array>();
  /** Latest staged value per key and the staged change that wrote it. */
  readonly overlay = new Map<string, { bytes: Uint8Array | null; owner: StagedOwner }>();
  #sorted = new SortedKeys();
  /** Over every key in `committed` or `overlay`. */
  #scopes = new ScopeIndex();
  /**
   * `scopeEntries` results by scope, least recently used first. A view is
   * never changed: a change to a visible entry of its scope replaces it by an
   * updated copy, so the array a task was sent with is still the current view
   * exactly when nothing in the scope changed since (`scopeIs` in O(1)), and
   * the next record of a key gets its entries without a lookup or a sort.
   */
  readonly #views = new Map<string, ScopeView>();
  /**
   * Scopes whose current view `scopeEntries` handed out (a task carries it, a
   * result is checked against it), with how many holders have not given it
   * back (`returnView`): while any has, it is never changed. A view no one
   * holds is changed in place, so a key's records — a preload, a check, a
   * staged change each — do not copy the key's entries per record.
   */
  readonly #handedOut = new Map<string, number>();
  /** Entries copied to keep handed-out views unchanged (stats: `preloadEntriesCopied`). */
  entriesCopied = 0;

  /** Loads a committed entry (snapshot load). */
  setCommitted(key: string, bytes: Uint8Array): void {
    const before = this.#views.size === 0 ? undefined : this.getBytes(key);
    if (!this.committed.has(key)) {
      this.#sorted.markStale();
      this.#scopes.add(key);
    }
    this.committed.set(key, bytes);
    if (this.#views.size !== 0) this.#visibleChanged(key, before, this.getBytes(key));
  }

  getBytes(key: string): Uint8Array | undefined {
    const staged = this.overlay.get(key);
    if (staged !== undefined) return staged.bytes ?? undefined;
    return this.committed.get(key);
  }

  getCommittedBytes(key: string): Uint8Array | undefined {
    return this.committed.get(key);
  }

  /** Entries within `opts`, in key order: at most `limit` (only the first `limit` keys are looked at when nothing is staged). */
  rangeBytes(opts: RangeOptions, limit = Infinity): Array<[string, Uint8Array]> {
    const rows = this.#rangeBytes(opts, limit);
    return rows.length > limit ? rows.slice(0, limit) : rows;
  }

  #rangeBytes(opts: RangeOptions, limit: number): Array<[string, Uint8Array]> {
    const scope = scopeOf(opts);
    if (scope !== undefined) {
      const out: Array<[string, Uint8Array]> = [];
      for (const k of this.#scopes.children(scope)) {
        const bytes = this.getBytes(k);
        if (bytes !== undefined) out.push([k, bytes]);
      }
      return out.sort((a, b) => compareKeys(a[0], b[0]));
    }
    if (this.overlay.size === 0) return this.committedRange(opts, limit);
    const keys = this.#sorted.range(this.committed, opts);
    return withWrites(keys.map((k) => [k, this.committed.get(k)!] as const), stagedBytes(this.overlay), opts);
  }

  /**
   * The entries of one record key: the key itself, then `key@...` in key
   * order (what `rangeBytes({ prefix: 'key@' })` after `getBytes(key)`
   * gives, without building either).
   */
  scopeEntries(scope: string): ScopeView {
    let view = this.#views.get(scope);
    if (view !== undefined) {
      this.#views.delete(scope); // most recently used last
      this.#views.set(scope, view);
      this.#handedOut.set(scope, (this.#handedOut.get(scope) ?? 0) + 1);
      return view;
    }
    view = this.#buildScope(scope);
    this.#views.set(scope, view);
    if (this.#views.size > VIEW_LIMIT) {
      const oldest = this.#views.keys().next().value!;
      this.#views.delete(oldest);
      this.#handedOut.delete(oldest);
    }
    this.#handedOut.set(scope, 1);
    return view;
  }

  /**
   * A holder of `view` (from `scopeEntries`) is done with it: its result was
   * checked against it. Once every holder of the scope's current view gave
   * it back, the next change of the scope updates it in place.
   */
  returnView(scope: string, view: ReadonlyArray<readonly [string, Uint8Array]>): void {
    if (this.#views.get(scope) !== view) return;
    const holders = this.#handedOut.get(scope) ?? 0;
    if (holders <= 1) this.#handedOut.delete(scope);
    else this.#handedOut.set(scope, holders - 1);
  }

  #buildScope(scope: string): Array<[string, Uint8Array]> {
    const out: Array<[string, Uint8Array]> = [];
    const own = this.getBytes(scope);
    if (own !== undefined) out.push([scope, own]);
    const first = out.length;
    for (const k of this.#scopes.children(scope)) {
      const bytes = this.getBytes(k);
      if (bytes !== undefined) out.push([k, bytes]);
    }
    if (out.length - first > 1) {
      const rows = out.splice(first).sort((a, b) => compareKeys(a[0], b[0]));
      for (const row of rows) out.push(row);
    }
    return out;
  }

  /**
   * True when `scope`'s entries are exactly `entries` (same keys, same byte
   * arrays by identity). O(1) when `entries` is the scope's current view
   * (nothing changed since it was handed out); otherwise compared entry by
   * entry, allocating nothing.
   */
  scopeIs(scope: string, entries: ReadonlyArray<readonly [string, Uint8Array]>): boolean {
    if (this.#views.get(scope) === entries) return true;
    for (const [k, bytes] of entries) if (this.getBytes(k) !== bytes) return false;
    let n = this.getBytes(scope) === undefined ? 0 : 1;
    for (const k of this.#scopes.children(scope)) if (this.getBytes(k) !== undefined) n += 1;
    return n === entries.length;
  }

  /** The visible bytes of `key` went from `before` to `after`: the views of its scopes are replaced by updated copies. */
  #visibleChanged(key: string, before: Uint8Array | undefined, after: Uint8Array | undefined): void {
    if (before !== after) this.#viewsChanged([[key, after]]);
  }

  committedRange(opts: RangeOptions, limit = Infinity): Array<[string, Uint8Array]> {
    return this.#sorted.range(this.committed, opts, limit).map((k) => [k, this.committed.get(k)!]);
  }

  /** Makes staged writes visible (overlay). */
  stage(owner: StagedOwner, writes: WireWrites): void {
    // Several writes to one scope (a windowed step writes a window, its key's stream time, the windows it closes)
    // replace the scope's view once, not once per write.
    let changed: Array<readonly [string, Uint8Array | undefined]> | undefined;
    const views = this.#views.size !== 0;
    let last: string | undefined;
    let lastSet: Map<number, object> | undefined;
    const scope = owner.scope;
    for (const [key, bytes] of writes) {
      const before = views ? this.getBytes(key) : undefined;
      if (!this.overlay.has(key) && !this.committed.has(key)) this.#scopes.add(key);
      this.overlay.set(key, { bytes, owner });
      // Listed as pending under each scope of the key (see pendingUnder): with the change's record key known, under it
      // and the scopes it is in once (below), and here only under deeper scopes (`scope@x` of `scope@x@y`), rare.
      for (let at = deeperScope(key, scope); at !== -1; at = key.indexOf(SCOPE_SEPARATOR, at + 1)) {
        if (last === undefined || at !== last.length || !key.startsWith(last)) {
          last = key.slice(0, at);
          lastSet = this.#scopes.pending(last);
        }
        lastSet?.set(owner.id, owner);
      }
      if (views && before !== (bytes ?? undefined)) (changed ??= []).push([key, bytes ?? undefined]);
    }
    if (scope !== undefined) this.#listUnderScope(owner, scope, true);
    if (changed !== undefined) this.#viewsChanged(changed);
  }

  /**
   * The visible bytes of these keys changed: each view of their scopes (a key
   * itself, and each prefix before a separator) is replaced by one updated
   * copy. A windowed step writes several keys of one record key per record,
   * so the scopes touched are few: two short arrays, no map.
   */
  #viewsChanged(changed: ReadonlyArray<readonly [string, Uint8Array | undefined]>): void {
    const scopes: string[] = [];
    const lists: Array<Array<readonly [string, Uint8Array | undefined]>> = [];
    for (const change of changed) {
      const key = change[0];
      for (let at = key.indexOf(SCOPE_SEPARATOR, 1); ; at = key.indexOf(SCOPE_SEPARATOR, at + 1)) {
        const end = at === -1 ? key.length : at;
        let i = 0;
        while (i < scopes.length && !(scopes[i]!.length === end && key.startsWith(scopes[i]!))) i++;
        if (i < scopes.length) lists[i]!.push(change);
        else {
          const scope = end === key.length ? key : key.slice(0, end);
          if (this.#views.has(scope)) { scopes.push(scope); lists.push([change]); }
        }
        if (at === -1) break;
      }
    }
    for (let i = 0; i < scopes.length; i++) {
      const scope = scopes[i]!;
      const view = this.#views.get(scope)!;
      const next = withEntries(view, scope, lists[i]!, this.#handedOut.has(scope));
      if (next !== view) {
        this.entriesCopied += view.length;
        this.#views.set(scope, next);
        this.#handedOut.delete(scope);
      }
    }
  }

  /**
   * The staged changes not yet committed that wrote a key under `scope`
   * (`scope@...`), by id: with `scope`'s own overlay owner, every uncommitted
   * change a change computed from the scope's entries can have read (and
   * maybe a few more, whose writes were overwritten since — an extra
   * dependency on an earlier change of the key only orders more strictly).
   * As many as the key has changes in flight, whatever the number of its
   * entries. Tracked from the first call on (which walks the scope's entries
   * once); undefined for a scope without keys under it.
   */
  pendingUnder(scope: string): ReadonlyMap<number, StagedOwner> | undefined {
    const tracked = this.#scopes.pending(scope) as Map<number, StagedOwner> | undefined;
    if (tracked !== undefined) return tracked;
    const initial = new Map<number, StagedOwner>();
    for (const key of this.#scopes.children(scope)) {
      const owner = this.overlay.get(key)?.owner;
      if (owner !== undefined) initial.set(owner.id, owner);
    }
    return this.#scopes.track(scope, initial) as Map<number, StagedOwner> | undefined;
  }

  /**
   * Lists (or, once committed, unlists) a change under its record key `scope`
   * and every scope `scope` itself is under (`a` and `a@b` for `a@b@c`): its
   * writes are all in `scope`, so these are the same for each of them.
   */
  #listUnderScope(owner: StagedOwner, scope: string, list: boolean): void {
    for (let at = scope.indexOf(SCOPE_SEPARATOR, 1); ; at = scope.indexOf(SCOPE_SEPARATOR, at + 1)) {
      const pending = this.#scopes.pending(at === -1 ? scope : scope.slice(0, at));
      if (list) pending?.set(owner.id, owner);
      else pending?.delete(owner.id);
      if (at === -1) return;
    }
  }

  /** `owner` is committed: no longer listed under the scopes of `key` past its own (`last`: a scope done already, to skip). */
  #committed(key: string, owner: StagedOwner, last: string | undefined): string | undefined {
    for (let at = deeperScope(key, owner.scope); at !== -1; at = key.indexOf(SCOPE_SEPARATOR, at + 1)) {
      if (last !== undefined && at === last.length && key.startsWith(last)) continue;
      last = key.slice(0, at);
      this.#scopes.pending(last)?.delete(owner.id);
    }
    return last;
  }

  /** Applies durable writes to the committed map and drops overlay entries this owner was the last to write. */
  applyCommitted(writes: WireWrites, owner?: StagedOwner): void {
    const views = this.#views.size !== 0;
    let last: string | undefined;
    for (const [key, bytes] of writes) {
      const before = views ? this.getBytes(key) : undefined;
      const known = this.committed.has(key) || this.overlay.has(key);
      if (bytes === null) {
        if (this.committed.delete(key)) this.#sorted.markStale();
      } else {
        if (!this.committed.has(key)) this.#sorted.markStale();
        this.committed.set(key, bytes);
      }
      if (owner !== undefined) {
        if (this.overlay.get(key)?.owner === owner) this.overlay.delete(key);
        last = this.#committed(key, owner, last);
      }
      const present = this.committed.has(key) || this.overlay.has(key);
      if (present && !known) this.#scopes.add(key);
      else if (!present && known) this.#scopes.remove(key);
      if (views) this.#visibleChanged(key, before, this.getBytes(key));
    }
    if (owner?.scope !== undefined) this.#listUnderScope(owner, owner.scope, false);
  }

  /** Committed entries in key order (for snapshots and the changelog re-publish). */
  committedEntries(): Array<[string, Uint8Array]> {
    return this.committedRange({});
  }
}

/**
 * Where in `key` the first scope to list a change under ends: the first
 * separator (not at 0), or with the change's record key `scope` known (it is
 * listed there once), the first past `scope@`; -1: none.
 */
function deeperScope(key: string, scope: string | undefined): number {
  if (scope === undefined) return key.indexOf(SCOPE_SEPARATOR, 1);
  return key.length > scope.length ? key.indexOf(SCOPE_SEPARATOR, scope.length + 1) : -1;
}

/** A scope's entries as `MemoryState.scopeEntries` gives them: never modified once handed out. */
export type ScopeView = ReadonlyArray<readonly [string, Uint8Array]>;

/** Scopes whose view is kept (least recently used dropped first): a view holds its scope's entries, not copies of their bytes. */
const VIEW_LIMIT = 8192;

/**
 * `view` (of `scope`: its own entry first, then `scope@...` in key order)
 * with each change applied in order (a key set to its bytes, or removed when
 * undefined): when `shared`, copied once (the same view when nothing in it
 * changes); otherwise changed in place and returned.
 */
function withEntries(view: ScopeView, scope: string, changes: ReadonlyArray<readonly [string, Uint8Array | undefined]>, shared: boolean): ScopeView {
  let next: Array<readonly [string, Uint8Array]> | undefined = shared ? undefined : view as Array<readonly [string, Uint8Array]>;
  for (const [key, bytes] of changes) {
    const current = next ?? view;
    const at = entryIndex(current, scope, key);
    if (bytes === undefined && !at.found) continue;
    next ??= view.slice();
    setEntry(next, at, key, bytes);
  }
  return next ?? view;
}

function setEntry(entries: Array<readonly [string, Uint8Array]>, { at, found }: { at: number; found: boolean }, key: string, bytes: Uint8Array | undefined): void {
  if (bytes === undefined) entries.splice(at, 1);
  else if (found) entries[at] = [key, bytes];
  else entries.splice(at, 0, [key, bytes]);
}

/** Where `key` is (found) or belongs in `view` of `scope`. */
function entryIndex(view: ScopeView, scope: string, key: string): { at: number; found: boolean } {
  const own = view.length > 0 && view[0]![0] === scope ? 1 : 0;
  let at: number;
  let found: boolean;
  if (key === scope) {
    at = 0;
    found = own === 1;
  } else {
    let lo = own;
    let hi = view.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (view[mid]![0] < key) lo = mid + 1;
      else hi = mid;
    }
    at = lo;
    found = lo < view.length && view[lo]![0] === key;
  }
  return { at, found };
}

/** `{ prefix: 'x@' }` alone (what preload and scoped ranges ask) → `'x'`; anything else → undefined. */
function scopeOf(opts: RangeOptions): string | undefined {
  const p = opts.prefix;
  if (p === undefined || opts.start !== undefined || opts.end !== undefined) return undefined;
  if (p.length < 2 || !p.endsWith(SCOPE_SEPARATOR)) return undefined;
  return p.slice(0, -1);
}
