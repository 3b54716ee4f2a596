import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { WalrusError } from '../errors/index.js';
import { ChangeSet, type WireWrites } from './change-set.js';
import { assertKey, assertStoreName, decodeValue, pack, unpack } from './codec.js';
import { encodeChangelogEntries } from './changelog-codec.js';
import { ChangelogPublisher, type ChangelogOptions } from './changelog-publisher.js';
import { FrameLog } from './frame-log.js';
import { MemoryState } from './memory-state.js';
import { STORE_FILES } from './paths.js';
import type { RangeOptions, StateEntry } from './range.js';
import { clearRestoreMarker, readRestoreMarker, restoreInto, type ChangelogFetch, type RestoreReport } from './restore.js';
import { readSnapshot, writeSnapshot } from './snapshot-file.js';
import { StagedChange } from './staged-change.js';
import { lockStoreDir, type StoreLock } from './store-lock.js';

export interface KeyValueStoreOptions {
  /** The store's directory; use `storeDir(stateDir, app, name)`. Created when missing. */
  dir: string;
  /** Store name (1-100 of `A-Z a-z 0-9 . _ -`). */
  name: string;
  /** `always`: a commit resolves after fdatasync (group commit); `never`: after the write (survives a process crash, not a power loss). @default 'always' */
  fsync?: 'always' | 'never';
  /** Write a snapshot and empty the log once the log grows past this many bytes. @default 67108864 (64 MiB) */
  snapshotEveryBytes?: number;
  /** Publish every commit to the store's changelog topic. Omit for a local-only store. */
  changelog?: ChangelogOptions;
}

/** One log frame: commit seq, writes, ids of the records covered. */
interface LogBody {
  s: number;
  w: WireWrites;
  c: string[];
}

/**
 * A keyed state store: an in-memory map made durable by an append-only,
 * checksummed commit log plus periodic snapshots, mirrored to a changelog
 * topic. See docs/state.md for the commit protocol the runtime follows.
 */
export class KeyValueStore {
  readonly name: string;
  readonly dir: string;
  #state = new MemoryState();
  #log: FrameLog;
  #seq = 0;
  #applied = new Set<string>();
  #nextStagedId = 1;
  #queue: StagedChange[] = [];
  #flushing = false;
  #drained: Array<() => void> = [];
  #compactWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  #failed: unknown;
  #closed = false;
  #closing: Promise<void> | undefined;
  #restoring = false;
  #snapshotEveryBytes: number;
  #publisher: ChangelogPublisher | undefined;
  #lock: StoreLock;
  /** True when a restore was interrupted: call restoreFromChangelog again before using the store. */
  restoreIncomplete = false;
  /** Bytes of torn tail truncated from the log when the store opened. */
  readonly recoveredTornBytes: number;

  private constructor(opts: KeyValueStoreOptions, log: FrameLog, tornBytes: number, lock: StoreLock) {
    this.name = opts.name;
    this.#lock = lock;
    this.dir = opts.dir;
    this.#log = log;
    this.recoveredTornBytes = tornBytes;
    this.#snapshotEveryBytes = opts.snapshotEveryBytes ?? 64 * 1024 * 1024;
    this.#publisher = opts.changelog ? new ChangelogPublisher(opts.changelog, join(opts.dir, STORE_FILES.changelogCursor)) : undefined;
  }

  /** Opens a store: loads the snapshot, replays the log (truncating a torn tail), and re-publishes what the changelog missed. */
  static async open(opts: KeyValueStoreOptions): Promise<KeyValueStore> {
    assertStoreName(opts.name);
    await mkdir(opts.dir, { recursive: true });
    const lock = await lockStoreDir(opts.dir, opts.name);
    let log: FrameLog | undefined;
    try {
      const snapshot = await readSnapshot(join(opts.dir, STORE_FILES.snapshot));
      const opened = await FrameLog.open(join(opts.dir, STORE_FILES.log), (opts.fsync ?? 'always') === 'always');
      log = opened.log;
      const store = new KeyValueStore(opts, opened.log, opened.tornBytes, lock);
      if (snapshot) {
        for (const [k, v] of snapshot.entries) store.#state.committed.set(k, v);
        for (const id of snapshot.applied) store.#applied.add(id);
        store.#seq = snapshot.seq;
      }
      const replayed: LogBody[] = [];
      for (const frame of opened.frames) {
        const body = unpack<LogBody>(frame);
        if (body.s <= store.#seq) continue; // already in the snapshot (crash between snapshot rename and log reset)
        store.#state.applyCommitted(body.w);
        for (const id of body.c) store.#applied.add(id);
        store.#seq = body.s;
        replayed.push(body);
      }
      const marker = await readRestoreMarker(opts.dir);
      store.restoreIncomplete = marker === 'fetching';
      if (store.#publisher && !store.restoreIncomplete) {
        await store.#catchUpChangelog(marker === 'republish', snapshot?.seq ?? 0, replayed);
      }
      return store;
    } catch (error) {
      await log?.close();
      await lock.release();
      throw error;
    }
  }

  /** Last committed sequence number (0 for an empty store). */
  get seq(): number {
    return this.#seq;
  }

  /** Number of committed keys. */
  get size(): number {
    return this.#state.committed.size;
  }

  /** Current value (including staged, not yet durable, changes). */
  get<T = unknown>(key: string): T | undefined {
    assertKey(this.name, key);
    const bytes = this.#state.getBytes(key);
    return bytes === undefined ? undefined : decodeValue<T>(bytes);
  }

  /** Entries in key order (including staged changes). */
  range<T = unknown>(opts: RangeOptions = {}): Array<StateEntry<T>> {
    const rows = this.#state.rangeBytes(opts);
    const limited = opts.limit === undefined ? rows : rows.slice(0, opts.limit);
    return limited.map(([key, bytes]) => ({ key, value: decodeValue<T>(bytes) }));
  }

  /** Committed (durable) entries only, in key order. */
  committedRange<T = unknown>(opts: RangeOptions = {}): Array<StateEntry<T>> {
    return this.#state.committedRange(opts).map(([key, bytes]) => ({ key, value: decodeValue<T>(bytes) }));
  }

  /** A new change set on top of the current state; `scope` restricts it to one record key (and `key@...`). */
  changeSet(scope?: string): ChangeSet {
    return new ChangeSet(this.name, this.#state, scope);
  }

  /** The encoded entries of one record key (the key itself and `key@...`), to ship to a worker with the task. */
  preload(recordKey: string): Array<[string, Uint8Array]> {
    assertKey(this.name, recordKey);
    const own = this.#state.getBytes(recordKey);
    const rows = this.#state.rangeBytes({ prefix: `${recordKey}@` });
    return own === undefined ? rows : [[recordKey, own], ...rows];
  }

  /** Rebuilds a change set from the writes a worker returned, checking they stay within `scope`. */
  changeSetFromWire(writes: WireWrites, scope?: string): ChangeSet {
    return ChangeSet.fromWire(this.name, this.#state, writes, scope);
  }

  /**
   * Makes a change set visible to later records without making it durable.
   * Every staged change must later be committed (in any order: the store
   * writes a change after the earlier ones it depends on).
   */
  stage(changes: ChangeSet, covers: readonly string[] = []): StagedChange {
    this.#assertUsable();
    const writes = changes.toWire();
    const deps = new Set<StagedChange>();
    for (const key of changes.readKeys()) this.#addDep(deps, key);
    for (const [key] of writes) this.#addDep(deps, key);
    const staged = new StagedChange(this.#nextStagedId++, writes, [...covers], [...deps]);
    this.#state.stage(staged, writes);
    return staged;
  }

  /**
   * Makes a change durable (and published to the changelog) and records the
   * ids it covers; resolves when both are done. Pass a ChangeSet to stage and
   * commit in one step.
   */
  async commit(change: ChangeSet | StagedChange, covers: readonly string[] = []): Promise<void> {
    const staged = change instanceof StagedChange ? change : this.stage(change, covers);
    if (staged.phase !== 'staged') return staged.done;
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
    if (this.#failed !== undefined || this.#closed) {
      staged.fail(this.#unusableError());
      return staged.done;
    }
    this.#queue.push(staged);
    staged.setPhase('queued');
    this.#kick();
    return staged.done;
  }

  /** True when the effects of record `id` are in the committed state (the runtime then releases it without re-applying). */
  hasApplied(id: string): boolean {
    return this.#applied.has(id);
  }

  /** The runtime released these records durably: the store may forget their ids at the next snapshot. */
  markReleased(ids: Iterable<string>): void {
    for (const id of ids) this.#applied.delete(id);
  }

  /** Writes a snapshot of the committed state and empties the log. */
  compact(): Promise<void> {
    this.#assertUsable();
    return new Promise<void>((resolve, reject) => {
      this.#compactWaiters.push({ resolve, reject });
      this.#kick();
    });
  }

  /**
   * Rebuilds an empty store from its changelog: `fetch` returns the next
   * entries (`[]` when the topic is drained). Because Walrus GETs consume
   * entries, the restored state is then re-published as a compacted snapshot
   * so the changelog still holds everything. See docs/state.md.
   */
  async restoreFromChangelog(fetch: ChangelogFetch): Promise<RestoreReport> {
    this.#assertUsable();
    if (!this.restoreIncomplete && (this.#seq !== 0 || this.#state.committed.size !== 0)) {
      throw new WalrusError('STATE_STORE_ERROR', `store "${this.name}" in ${this.dir} is not empty (commit ${this.#seq}); restore only into an empty state directory`, {
        context: { store: this.name, path: this.dir },
      });
    }
    if (this.#state.overlay.size > 0 || this.#queue.length > 0 || this.#flushing) {
      throw new WalrusError('STATE_STORE_ERROR', `store "${this.name}": restore must run before any record is processed`, { context: { store: this.name } });
    }
    this.#restoring = true;
    try {
      return await restoreInto(this.name, this.dir, fetch, {
        appendLocal: async (writes) => this.#appendLocal(writes),
        finish: async () => {
          await this.#snapshotNow();
          if (this.#publisher) await this.#republishAll();
          this.restoreIncomplete = false;
        },
        size: () => this.#state.committed.size,
      });
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
    this.#publisher?.close();
    if (this.#flushing) await new Promise<void>((resolve) => this.#drained.push(resolve));
    this.#closed = true;
    try {
      if (this.#failed === undefined) await this.#publisher?.flushCursor();
      await this.#log.close();
    } finally {
      await this.#lock.release();
    }
  }

  #addDep(deps: Set<StagedChange>, key: string): void {
    const owner = this.#state.overlay.get(key)?.owner;
    if (owner instanceof StagedChange && owner.phase !== 'committed') deps.add(owner);
  }

  #assertUsable(): void {
    if (this.#failed !== undefined || this.#closed || this.#restoring) throw this.#unusableError();
  }

  #unusableError(): WalrusError {
    if (this.#closed) return new WalrusError('STATE_STORE_ERROR', `store "${this.name}" is closed`, { context: { store: this.name } });
    if (this.#restoring) return new WalrusError('STATE_STORE_ERROR', `store "${this.name}" is being restored from its changelog`, { context: { store: this.name } });
    return new WalrusError('STATE_STORE_ERROR', `store "${this.name}" failed earlier and must be reopened: ${(this.#failed as Error)?.message}`, {
      cause: this.#failed, context: { store: this.name },
    });
  }

  #kick(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    void this.#flushLoop();
  }

  /** The single writer: every log append, publish and snapshot happens here, one at a time. */
  async #flushLoop(): Promise<void> {
    for (;;) {
      if (this.#queue.length === 0 && this.#compactWaiters.length === 0) {
        this.#flushing = false;
        for (const resolve of this.#drained.splice(0)) resolve();
        return;
      }
      const batch = this.#queue.splice(0);
      try {
        if (batch.length > 0) await this.#writeBatch(batch);
        if (this.#compactWaiters.length > 0 || this.#log.size >= this.#snapshotEveryBytes) {
          const waiters = this.#compactWaiters.splice(0);
          await this.#snapshotNow();
          for (const w of waiters) w.resolve();
        }
      } catch (error) {
        this.#failed ??= error;
        for (const staged of [...batch, ...this.#queue.splice(0)]) if (staged.phase !== 'committed') staged.fail(error);
        for (const w of this.#compactWaiters.splice(0)) w.reject(error);
      }
    }
  }

  async #writeBatch(batch: StagedChange[]): Promise<void> {
    let seq = this.#seq;
    const bodies = batch.map((staged) => {
      staged.seq = ++seq;
      return pack({ s: staged.seq, w: staged.writes, c: [...staged.covers] } satisfies LogBody);
    });
    await this.#log.append(bodies);
    this.#seq = seq;
    for (const staged of batch) {
      this.#state.applyCommitted(staged.writes, staged);
      for (const id of staged.covers) this.#applied.add(id);
    }
    if (this.#publisher) {
      // One series of entries per flush, not per commit: only each key's last write in the batch matters
      // to a restore (it applies entries in order), and fewer, fuller entries are far cheaper to produce.
      const last = new Map<string, Uint8Array | null>();
      for (const staged of batch) for (const [key, bytes] of staged.writes) last.set(key, bytes);
      const entries = last.size === 0 ? [] : encodeChangelogEntries(this.name, this.#seq, [...last]);
      await this.#publisher.publish(entries);
      await this.#publisher.writeCursor(this.#seq);
    }
    for (const staged of batch) staged.setPhase('committed');
  }

  async #appendLocal(writes: WireWrites): Promise<void> {
    const seq = this.#seq + 1;
    await this.#log.append([pack({ s: seq, w: writes, c: [] } satisfies LogBody)]);
    this.#seq = seq;
    this.#state.applyCommitted(writes);
  }

  async #snapshotNow(): Promise<void> {
    await writeSnapshot(join(this.dir, STORE_FILES.snapshot), {
      seq: this.#seq,
      entries: this.#state.committedEntries(),
      applied: [...this.#applied],
    });
    await this.#log.reset();
  }

  /** Publishes the whole committed state as one compacted series of entries. */
  async #republishAll(): Promise<void> {
    const publisher = this.#publisher!;
    await publisher.publish(encodeChangelogEntries(this.name, this.#seq, this.#state.committedEntries()));
    await publisher.writeCursor(this.#seq, true);
  }

  /** On open: publish what a crash left unpublished (log frames after the cursor, or the whole state if a snapshot swallowed them). */
  async #catchUpChangelog(afterRestore: boolean, snapshotSeq: number, replayed: LogBody[]): Promise<void> {
    const publisher = this.#publisher!;
    const cursor = await publisher.readCursor();
    if (afterRestore) {
      await this.#republishAll();
      await clearRestoreMarker(this.dir);
      return;
    }
    if (cursor >= this.#seq) return;
    if (snapshotSeq > cursor) {
      await this.#republishAll();
      return;
    }
    const entries = replayed.filter((b) => b.s > cursor && b.w.length > 0).flatMap((b) => encodeChangelogEntries(this.name, b.s, b.w));
    await publisher.publish(entries);
    await publisher.writeCursor(this.#seq, true);
  }
}
