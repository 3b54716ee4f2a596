import { join } from 'node:path';
import { WalrusError } from '../../errors/index.js';
import { ChangeSet, type WireWrites } from '../model/change-set.js';
import { assertKey, decodeValue } from '../model/codec.js';
import { ChangelogPublisher } from '../changelog/changelog-publisher.js';
import { CommitWriter } from './commit-writer.js';
import { STORE_FILES } from './paths.js';
import { checkRangeOptions, type RangeOptions, type StateEntry } from '../model/range.js';
import { readRestoreMarker, restoreInto, type ChangelogFetch, type OpenLeases, type RestoreProgress, type RestoreReport } from '../changelog/restore.js';
import { StagedChange } from '../model/staged-change.js';
import { StoreCore } from './store-core.js';
import { assertRegularFiles, lockStoreDir } from './store-files.js';
import { resolveStoreOptions, type ResolvedStoreOptions } from './store-options.js';
import type { PidLock } from '../../util/pid-lock.js';
import type { KeyValueStoreOptions, PreparedWrites, StoreStats } from './store-types.js';

export type { KeyValueStoreOptions, PreparedWrites, StoreStats } from './store-types.js';

const EMPTY_COVERS: readonly string[] = Object.freeze([]);
const TRACK_AFTER = 32; // a change from a preload of more entries is ordered by its key's pending changes (pendingUnder)

/**
 * A keyed state store: an in-memory map made durable by an append-only,
 * checksummed commit log plus periodic snapshots, mirrored to a changelog
 * topic. See docs/state.md for the commit protocol the runtime follows.
 */
export class KeyValueStore {
  readonly name: string;
  readonly dir: string;
  /** The partition of a partitioned store this is (undefined: unpartitioned). */
  readonly partition: number | undefined;
  #core: StoreCore;
  #writer: CommitWriter;
  #lock: PidLock;
  #nextStagedId = 1;
  #dependencyChecks = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  #restoring = false;
  /** Set once a staged change was abandoned: later commits are refused (see `abandon`). */
  #abandoned: WalrusError | undefined;
  /** True when a restore was interrupted: call restoreFromChangelog again before using the store. */
  restoreIncomplete = false;

  private constructor(opts: ResolvedStoreOptions, core: StoreCore, lock: PidLock) {
    this.name = opts.name;
    this.dir = opts.dir;
    this.partition = opts.partition;
    this.#core = core;
    this.#lock = lock;
    this.#writer = new CommitWriter(core, opts.snapshotEveryBytes);
  }

  /** Opens a store: loads the snapshot, replays the log (truncating a torn tail), and re-publishes what the changelog missed. */
  static async open(options: KeyValueStoreOptions): Promise<KeyValueStore> {
    const opts = resolveStoreOptions(options);
    const lock = await lockStoreDir(opts);
    let core: StoreCore | undefined;
    try {
      await assertRegularFiles(opts.dir, opts.name);
      const publisher = opts.changelog ? new ChangelogPublisher(opts.changelog, join(opts.dir, STORE_FILES.changelogCursor)) : undefined;
      core = await StoreCore.load(opts.name, opts.dir, opts.fsync === 'always', publisher);
      core.journal = opts.journal;
      const store = new KeyValueStore(opts, core, lock);
      const marker = await readRestoreMarker(opts.dir);
      store.restoreIncomplete = marker === 'fetching';
      if (publisher && !store.restoreIncomplete) await core.catchUpChangelog(marker === 'republish');
      return store;
    } catch (error) {
      await core?.log.close();
      lock.release();
      throw error;
    }
  }

  /** Counters for metrics and `walrus-stream store`. */
  stats(): StoreStats {
    return {
      keys: this.#core.state.committed.size,
      seq: this.#core.seq,
      staged: this.#core.state.overlay.size,
      appliedIds: this.#core.applied.size,
      logBytes: this.#core.log.size,
      commits: this.#writer.commits,
      flushes: this.#writer.flushes,
      snapshots: this.#writer.snapshots,
      publishFailures: this.#core.publisher?.failures ?? 0,
      dependencyChecks: this.#dependencyChecks,
      preloadEntriesCopied: this.#core.state.entriesCopied,
    };
  }

  /** Bytes of torn tail truncated from the log when the store opened. */
  get recoveredTornBytes(): number { return this.#core.tornBytes; }

  /** Last committed sequence number (0 for an empty store). */
  get seq(): number { return this.#core.seq; }

  /** Number of committed keys. */
  get size(): number { return this.#core.state.committed.size; }

  /** Current value (including staged, not yet durable, changes). */
  get<T = unknown>(key: string): T | undefined {
    assertKey(this.name, key);
    const bytes = this.#core.state.getBytes(key);
    return bytes === undefined ? undefined : decodeValue<T>(bytes);
  }

  /** Entries in key order (including staged changes). */
  range<T = unknown>(opts?: RangeOptions): Array<StateEntry<T>> {
    const checked = checkRangeOptions(this.name, opts);
    return this.#core.state.rangeBytes(checked, checked.limit).map(([key, bytes]) => ({ key, value: decodeValue<T>(bytes) }));
  }

  /** Committed (durable) entries only, in key order. */
  committedRange<T = unknown>(opts?: RangeOptions): Array<StateEntry<T>> {
    const checked = checkRangeOptions(this.name, opts);
    return this.#core.state.committedRange(checked, checked.limit).map(([key, bytes]) => ({ key, value: decodeValue<T>(bytes) }));
  }

  /** A new change set on top of the current state; `scope` restricts it to one record key (and `key@...`). */
  changeSet(scope?: string): ChangeSet {
    return new ChangeSet(this.name, this.#core.state, scope);
  }

  /** The encoded entries of one record key (the key itself and `key@...`), to ship to a worker with the task. Never modify it: it is the scope's current view (see MemoryState). */
  preload(recordKey: string): ReadonlyArray<readonly [string, Uint8Array]> {
    assertKey(this.name, recordKey);
    return this.#core.state.scopeEntries(recordKey);
  }

  /**
   * Rebuilds a change set from the writes a worker returned, checking they
   * stay within `scope`. Pass the `preload` the task was sent with as
   * `basedOn` to also check nothing changed the key meanwhile (a broken key
   * ordering would otherwise lose an update silently): the check is by
   * identity of the stored bytes, so it costs one preload.
   */
  changeSetFromWire(writes: WireWrites, scope?: string, basedOn?: ReadonlyArray<readonly [string, Uint8Array]>): ChangeSet {
    this.#assertUnchanged(scope, basedOn);
    return ChangeSet.fromWire(this.name, this.#core.state, writes, scope);
  }

  /**
   * `changeSetFromWire` for the runtime's hot path: the same checks, but the
   * checked writes are kept as they came (no change set is built) and staged
   * with `stage(prepared, covers)`. The keys of `basedOn` count as read, so
   * the change commits after any uncommitted change it was computed from.
   */
  prepareWire(writes: WireWrites, scope?: string, basedOn?: ReadonlyArray<readonly [string, Uint8Array]>): PreparedWrites {
    this.#assertUnchanged(scope, basedOn);
    // With both, `basedOn` is exactly the scope's entries and the writes are inside it: see `stage`.
    return { store: this.name, writes: ChangeSet.checkWire(this.name, writes, scope), reads: basedOn, scope: basedOn === undefined ? undefined : scope };
  }

  #assertUnchanged(scope: string | undefined, basedOn: ReadonlyArray<readonly [string, Uint8Array]> | undefined): void {
    if (basedOn === undefined || scope === undefined) return;
    if (!this.#core.state.scopeIs(scope, basedOn)) {
      throw new WalrusError('STATE_STORE_ERROR', `store "${this.name}": the state of key "${scope}" changed while a worker processed a record of it; ` +
        'two records of one key ran at once (the processor must run in key ordering). Process the record again from the current state.', {
        retriable: true, context: { store: this.name, key: scope },
      });
    }
    this.#core.state.returnView(scope, basedOn); // checked: the task that held the preload is done with it
  }

  /**
   * Makes a change set visible to later records without making it durable.
   * Every staged change must later be committed (in any order: the store
   * writes a change after the earlier ones it depends on).
   */
  stage(changes: ChangeSet | PreparedWrites, covers: readonly string[] = []): StagedChange {
    this.#assertUsable();
    const prepared = !(changes instanceof ChangeSet);
    const name = prepared ? changes.store : changes.name;
    if (name !== this.name) {
      throw new WalrusError('STATE_STORE_ERROR', `a change set of store "${name}" was passed to store "${this.name}"; stage it on the store that created it`, {
        context: { store: this.name },
      });
    }
    const writes = prepared ? changes.writes : changes.toWire();
    const deps: StagedChange[] = [];
    // From every entry of the record key (a preload), writing inside it: with many (open windows), it depends on each
    // uncommitted change of the key (pendingUnder, and the key's own entry); they are not walked.
    if (prepared && changes.scope !== undefined && changes.reads !== undefined && changes.reads.length > TRACK_AFTER) {
      for (const owner of this.#core.state.pendingUnder(changes.scope)?.values() ?? []) {
        this.#dependencyChecks += 1;
        if (owner instanceof StagedChange && (owner.phase === 'staged' || owner.phase === 'waiting')) deps.push(owner);
      }
      this.#addDep(deps, changes.scope);
    } else {
      if (prepared) { if (changes.reads) for (const [key] of changes.reads) this.#addDep(deps, key); }
      else for (const key of changes.readKeys()) this.#addDep(deps, key);
      for (const [key] of writes) this.#addDep(deps, key);
    }
    const staged = new StagedChange(this.#nextStagedId++, writes, covers.length === 0 ? EMPTY_COVERS : [...covers], deps, changes.scope);
    this.#core.state.stage(staged, writes);
    return staged;
  }

  /**
   * Makes a change durable (and published to the changelog) and records the
   * ids it covers; resolves when both are done. Pass a ChangeSet to stage and
   * commit in one step.
   */
  commit(change: ChangeSet | StagedChange, covers: readonly string[] = []): Promise<void> {
    const staged = change instanceof StagedChange ? change : this.stage(change, covers);
    // The common case — nothing it depends on is still uncommitted — queues it at once (no async step).
    if (this.#queueable(staged)) return this.#writer.enqueue(staged);
    return this.#commitWhenReady(staged);
  }

  /** True when `staged` can go to the writer now: staged, the store usable, every dependency queued or committed. */
  #queueable(staged: StagedChange): boolean {
    if (staged.phase !== 'staged' || this.#abandoned !== undefined || this.#writer.failed !== undefined || this.#closed) return false;
    for (const d of staged.deps) if (d.phase === 'staged' || d.phase === 'waiting' || d.phase === 'failed') return false;
    staged.setPhase('waiting');
    return true;
  }

  async #commitWhenReady(staged: StagedChange): Promise<void> {
    if (staged.phase !== 'staged') return staged.done;
    if (this.#abandoned !== undefined) {
      staged.fail(this.#abandoned);
      return staged.done;
    }
    staged.setPhase('waiting');
    const pending = staged.deps.filter((d) => d.phase === 'staged' || d.phase === 'waiting' || d.phase === 'failed');
    if (pending.length > 0) {
      try {
        await Promise.all(pending.map((d) => d.queued));
      } catch (error) {
        staged.fail(new WalrusError('STATE_STORE_ERROR', `store "${this.name}": an earlier change this one depends on failed to commit`, { cause: error }));
        return staged.done;
      }
    }
    if ((staged.phase as string) === 'failed') return staged.done; // abandoned while it waited
    if (this.#abandoned !== undefined) {
      staged.fail(this.#abandoned);
      return staged.done;
    }
    if (this.#writer.failed !== undefined || this.#closed) {
      staged.fail(this.#unusableError());
      return staged.done;
    }
    return this.#writer.enqueue(staged);
  }

  /**
   * Gives up a staged change that will never be committed (its record's
   * output could not be written). From then on the store refuses every
   * commit — changes staged later may have been computed on top of it, and
   * changes waiting for it fail — until it is closed and opened again: its
   * in-memory view still shows the abandoned writes, the files do not. The
   * runtime stops the pipeline at this point; the records stay in the
   * journal and the next start processes them from the committed state.
   */
  abandon(change: StagedChange, reason?: unknown): void {
    this.#abandoned ??= new WalrusError('STATE_STORE_ERROR', `store "${this.name}": a staged change was abandoned, so the store refuses further commits until it is reopened` +
      `${reason instanceof Error ? `: ${reason.message}` : ''}`, { cause: reason, context: { store: this.name } });
    if (change.phase === 'staged' || change.phase === 'waiting') change.fail(this.#abandoned);
  }

  /** True once a staged change was abandoned (the store then refuses commits). */
  get abandoned(): boolean {
    return this.#abandoned !== undefined;
  }

  /**
   * `commit` for several staged changes of this store, in staging order;
   * resolves once all are durable (rejects if any failed). Changes whose
   * dependencies are already queued or committed — within one group, every
   * change after the first of its key — are queued at once, without an
   * async step each: the writer writes flushes in order and fails every
   * change queued after a failed one, so the last flush settling settles
   * them all.
   */
  commitAll(changes: readonly StagedChange[]): Promise<void> {
    if (changes.length === 1) return this.commit(changes[0]!);
    const waits: Array<Promise<void>> = [];
    let flush: Promise<void> | undefined;
    for (const staged of changes) {
      if (this.#queueable(staged)) flush = this.#writer.enqueue(staged);
      else waits.push(this.#commitWhenReady(staged));
    }
    if (flush !== undefined) waits.push(flush);
    return waits.length === 1 ? waits[0]! : Promise.all(waits).then(() => undefined);
  }

  /** True when the effects of record `id` are in the committed state (the runtime then releases it without re-applying). */
  hasApplied(id: string): boolean {
    return this.#core.applied.has(id);
  }

  /**
   * After start-up recovery: forget every applied id except `keep` (the ids of
   * the journal's unreleased records, or a test of an id). Ids of records released before a crash
   * are then dropped instead of lingering, and cannot match a record of a
   * future journal that reuses their seq (e.g. after the journal directory
   * was deleted). Takes effect in memory now, on disk at the next snapshot.
   */
  forgetAppliedExcept(keep: Iterable<string> | ((id: string) => boolean)): void {
    let wanted: (id: string) => boolean;
    if (typeof keep === 'function') wanted = keep;
    else { const set = new Set(keep); wanted = (id) => set.has(id); }
    for (const id of [...this.#core.applied]) if (!wanted(id)) this.#core.applied.delete(id);
  }

  /** The runtime released these records durably: the store may forget their ids at the next snapshot. */
  markReleased(ids: Iterable<string>): void {
    for (const id of ids) this.#core.applied.delete(id);
  }

  /** Writes a snapshot of the committed state and empties the log. */
  compact(): Promise<void> {
    this.#assertUsable();
    return this.#writer.compact();
  }

  /**
   * Rebuilds an empty store from its changelog: `fetch` returns the next
   * entries (`[]` when drained). Walrus GETs consume entries, so the state
   * is then re-published compacted, and only then are leased batches
   * acknowledged (`openLeases`: none was lost meanwhile). docs/state.md.
   */
  async restoreFromChangelog(fetch: ChangelogFetch, onProgress?: RestoreProgress, topic?: string, openLeases?: OpenLeases): Promise<RestoreReport> {
    this.#assertUsable();
    if (!this.restoreIncomplete && (this.#core.seq !== 0 || this.#core.state.committed.size !== 0)) {
      throw new WalrusError('STATE_STORE_ERROR', `store "${this.name}" in ${this.dir} is not empty (commit ${this.#core.seq}); restore only into an empty state directory`, {
        context: { store: this.name, path: this.dir },
      });
    }
    if (this.#core.state.overlay.size > 0 || this.#writer.busy) {
      throw new WalrusError('STATE_STORE_ERROR', `store "${this.name}": restore must run before any record is processed`, { context: { store: this.name } });
    }
    this.#restoring = true;
    try {
      return await restoreInto(this.name, this.dir, fetch, {
        appendLocal: (writes, applied, foreign) => this.#writer.appendRestored(writes, applied, foreign),
        finish: async () => {
          await this.#core.snapshot();
          if (this.#core.publisher) await this.#core.republishAll();
          this.restoreIncomplete = false;
        },
        size: () => this.#core.state.committed.size,
      }, onProgress, this.#core.journal, topic, openLeases);
    } finally {
      this.#restoring = false;
    }
  }

  /** Waits for queued commits, then closes files. Staged but uncommitted changes are dropped (their records are not released). */
  async close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Closing the publisher first makes a publish stuck retrying (Walrus down) give up, so close never hangs.
    this.#core.publisher?.close();
    await this.#writer.drain();
    this.#closed = true;
    try {
      if (this.#writer.failed === undefined) await this.#core.publisher?.flushCursor();
      await this.#core.log.close();
    } finally {
      this.#lock.release();
    }
  }

  #addDep(deps: StagedChange[], key: string): void {
    this.#dependencyChecks += 1;
    const owner = this.#core.state.overlay.get(key)?.owner;
    // Only changes not yet queued need waiting for: a queued one is ahead in the log already.
    if (owner instanceof StagedChange && (owner.phase === 'staged' || owner.phase === 'waiting') && !deps.includes(owner)) deps.push(owner);
  }

  #assertUsable(): void {
    if (this.#writer.failed !== undefined || this.#closed || this.#restoring) throw this.#unusableError();
  }

  #unusableError(): WalrusError {
    if (this.#closed) return new WalrusError('STATE_STORE_ERROR', `store "${this.name}" is closed`, { context: { store: this.name } });
    if (this.#restoring) return new WalrusError('STATE_STORE_ERROR', `store "${this.name}" is being restored from its changelog`, { context: { store: this.name } });
    return new WalrusError('STATE_STORE_ERROR', `store "${this.name}" failed earlier and must be reopened: ${(this.#writer.failed as Error)?.message}`, {
      cause: this.#writer.failed, context: { store: this.name },
    });
  }
}
