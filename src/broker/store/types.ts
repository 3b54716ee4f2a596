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
}

export interface TopicLog {
  readonly name: string;
  /** Appends one entry. The bytes are copied or written before the caller's buffer is reused. */
  append(payload: Uint8Array): void;
  /** The next entry at the shared cursor (advancing it), or undefined when caught up. */
  read(): Buffer | undefined;
  /**
   * Up to `maxEntries` entries from the cursor; `accept(length, index)` is
   * asked before each one is taken and stops the batch when it says no.
   */
  readBatch(maxEntries: number, accept: (length: number, index: number) => boolean): Buffer[];
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
  /** Flushes, then fdatasyncs every file written since the last sync. */
  sync(): Promise<number>;
  close(): Promise<void>;
}
