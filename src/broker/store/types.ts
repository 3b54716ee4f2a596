import type { RecoveryReport } from './recovery-report.js';

/**
 * What the command layer needs from storage. Two implementations: a
 * memory-only log (no dataDir) and the durable segmented file log.
 */

/** A topic's position, as STATE reports it. */
export interface TopicSnapshot {
  /** Segment receiving appends (1-based). */
  currentSegment: number;
  /** Sealed segments and their entry counts, ascending. */
  sealed: ReadonlyArray<readonly [segment: number, entries: number]>;
  /** Entries in sealed segments (stock `last_sealed_entry_offset`). */
  sealedEntries: number;
  /** Entries ever appended to the topic. */
  totalEntries: number;
  /** Entries already delivered by GET / BATCH_GET through the shared cursor. */
  readCursor: number;
  /** The cursor a restart resumes from (below `readCursor` while leased entries are unacknowledged). */
  committedCursor: number;
  /** Repairs made to this topic's files when the node started (absent when there were none). */
  recovery?: TopicRecovery;
}

/** Per topic: what start-up recovery repaired (STATE shows it in default mode). */
export interface TopicRecovery {
  /** Damaged regions skipped inside segments (each one or more entries), and their bytes. */
  droppedRegions: number;
  droppedBytes: number;
  /** Bytes cut from torn segment tails. */
  truncatedBytes: number;
  /** Segment files with a bad header, moved aside (their new names). */
  quarantined: string[];
  /** `topic.json` was missing or damaged and was rebuilt from the directory name. */
  rebuilt: boolean;
  /** Numbers of segment files absent from the middle of the topic's range (their entries are gone). */
  missing: number[];
  /** The cursor file was damaged or of an unknown format: the topic is read again from its start. */
  cursorReset: boolean;
}

export interface TopicLog {
  readonly name: string;
  /** Appends one entry. The bytes are copied or written before the caller's buffer is reused. */
  append(payload: Uint8Array): void;
  /** Appends every entry or, when storing one fails (a full disk), none: the error is thrown with nothing of the batch kept. */
  appendBatch(payloads: readonly Uint8Array[]): void;
  /** The next entry at the shared cursor (advancing it), or undefined when caught up. */
  read(): Buffer | undefined;
  /**
   * Up to `maxEntries` entries from the cursor; `accept(length, index)` is
   * asked before each one is taken and stops the batch when it says no.
   */
  readBatch(maxEntries: number, accept: (length: number, index: number) => boolean): Buffer[];
  /** Index (0-based, over the topic's whole life) of the next entry `read`/`readBatch` would return. */
  readonly readPosition: number;
  /**
   * Entry `index` again, without moving anything: how leased entries that
   * were released are delivered a second time. `index` must be at or above
   * the persisted cursor (see `holdCursor`) and below `readPosition`. The
   * view is valid until the next append.
   */
  readAt(index: number): Buffer;
  /**
   * Persists `position` as the topic's cursor instead of `readPosition`
   * (undefined: follow `readPosition` again). Leases use it so the durable
   * cursor never passes an entry that was handed out but not acknowledged;
   * a restart then delivers it again. `position` must not exceed `readPosition`.
   */
  holdCursor(position: number | undefined): void;
  snapshot(): TopicSnapshot;
}

export interface LogStore {
  /** A registered topic, or undefined. */
  topic(name: string): TopicLog | undefined;
  /** Creates the topic if needed (idempotent). */
  register(name: string): TopicLog;
  readonly topicCount: number;
  /** Segments sealed across all topics (each one is a metadata change in stock Walrus). */
  readonly sealedSegmentCount: number;
  /**
   * Monotonic counter of changes (appends, cursor moves). A reply may be
   * sent once `durableSeq` reaches the `changeSeq` seen when it was made.
   */
  readonly changeSeq: number;
  /** Writes every pending change to the OS; returns the `changeSeq` now written. */
  flush(): number;
  /** What start-up recovery found and repaired (file store only). */
  readonly recovery?: RecoveryReport;
  /** Consumed segment files deleted since start, and their bytes (file store only). */
  readonly retention?: { readonly segmentsDeleted: number; readonly bytesDeleted: number };
  /** Flushes, then fdatasyncs every file written since the last sync. */
  sync(): Promise<number>;
  close(): Promise<void>;
}
