import type { FsyncMode } from '../../util/fsync.js';
import type { WireWrites } from '../model/change-set.js';
import type { ChangelogOptions } from '../changelog/changelog-publisher.js';

/** Options of `KeyValueStore.open`. */
export interface KeyValueStoreOptions {
  /** The store's directory; use `storeDir(stateDir, app, name)`. Created when missing. */
  dir: string;
  /** Store name (1-100 of `A-Z a-z 0-9 . _ -`). */
  name: string;
  /**
   * In the shared fsync vocabulary (util/fsync.ts). `always`: a commit
   * resolves after fdatasync (group commit); `never`: after the write
   * (survives a process crash, not a power loss). @default 'always'
   */
  fsync?: Exclude<FsyncMode, 'interval'>;
  /** Write a snapshot and empty the log once the log grows past this many bytes. @default 67108864 (64 MiB) */
  snapshotEveryBytes?: number;
  /**
   * Which partition of a partitioned store this is (its files are
   * `<storeDir>/p<i>/`, its changelog `<changelog>.p<i>`); named in messages
   * and in `walrus-stream store`. @default none (an unpartitioned store)
   */
  partition?: number;
  /** Publish every commit to the store's changelog topic. Omit for a local-only store. */
  changelog?: ChangelogOptions;
  /**
   * The identity of the journal whose records this store's commits cover
   * (`journalIdentity`): commits then carry those records' ids to the
   * changelog, and a restore from it keeps the ids of this journal, so a
   * record the crash left unreleased is not applied twice. @default none
   */
  journal?: string;
}

/** Writes a worker returned, checked by `KeyValueStore.prepareWire` and ready to `stage`. */
export interface PreparedWrites {
  readonly store: string;
  readonly writes: WireWrites;
  /** Entries the writes were computed from (the task's preload): their keys count as read. */
  readonly reads: ReadonlyArray<readonly [string, Uint8Array]> | undefined;
  /**
   * Set when `reads` was checked to be exactly this record key's entries:
   * staging then finds the uncommitted changes they hold from the key's
   * owners (`MemoryState.ownersIn`), not entry by entry.
   */
  readonly scope?: string;
}

/** What `KeyValueStore.stats()` reports. */
export interface StoreStats {
  /** Committed keys. */
  keys: number;
  /** Last committed seq. */
  seq: number;
  /** Keys with a staged (visible, not yet durable) value. */
  staged: number;
  /** Record ids remembered for `hasApplied` (shrinks when the runtime calls `markReleased` and a snapshot runs). */
  appliedIds: number;
  logBytes: number;
  /** Change sets committed since open. */
  commits: number;
  /** Log writes since open (each one fsync with `fsync: 'always'`): commits / flushes = the group-commit factor. */
  flushes: number;
  snapshots: number;
  /** Failed changelog publish attempts since open (each retried). */
  publishFailures: number;
  /**
   * Entries and staged changes looked at since open to order staged changes
   * after the uncommitted ones they read or overwrote. Per change from a
   * worker: its key's uncommitted changes and its writes — not every entry
   * of its key (a key with thousands of open windows cost thousands a record).
   */
  dependencyChecks: number;
  /**
   * Entries copied since open to keep a preload handed to a task unchanged
   * when its key changes: about one copy of the key's entries per preload
   * (a key run shares one), not one per record.
   */
  preloadEntriesCopied: number;
}
