/**
 * The small interfaces the coordinator is built around, so it can be tested
 * on its own and wired to the real client, codec and journal by `pipeline.ts`.
 * The runtime knows neither sockets nor bytes-on-the-wire.
 */
import type { Serializer, SinkSpec, SourceSpec } from '../../topology/types.js';
import type { GroupBatchResult, GroupSpecWire, TaskRecord } from '../wire/messages.js';

/**
 * Entries of one fetch. With `ack`, the node only hides them until it is
 * called (a lease, `client.lease()`): the coordinator acknowledges once they
 * are durable in the journal (or finished, without a journal). Without it,
 * reading consumed them (GET / BATCH_GET).
 */
export interface FetchedBatch {
  entries: Buffer[];
  ack?(): Promise<void>;
  /**
   * The partition topic the batch was read from, when the source reads
   * several (a partitioned source's owned partitions, in turn): the node
   * orders redeliveries per topic.
   */
  topic?: string;
}

/** Reads raw entries of one source topic (a `Lease` fits `FetchedBatch`). */
export interface SourceReader {
  fetch(maxEntries: number, maxBytes: number): Promise<FetchedBatch>;
}

/** Writes whole entries to a topic (the client's `putMany`). */
export interface EntryWriter {
  putMany(topic: string, entries: string[]): Promise<void>;
}

/** One record decoded from a source entry. */
export interface DecodedRecord {
  /** From the envelope; undefined for plain-text entries (the coordinator derives one). */
  id?: string;
  key?: string;
  /** The value bytes, deserialized in the worker (so that CPU spreads across cores). */
  value: Uint8Array;
  /** The source's serializer, applied to `value` in the worker. */
  encoding: Serializer;
  headers: Record<string, string>;
  timestamp: number;
  /**
   * The original bytes of this record as one Walrus entry (what a dead
   * letter keeps). A function: building it costs an encode for records of a
   * batch entry, and only dead letters need it.
   */
  raw(): string;
}

/** A record on its way to a sink, value already serialized. */
export interface OutRecord {
  id: string;
  key?: string;
  value: Uint8Array;
  headers: Record<string, string>;
  timestamp: number;
}

/** Turns entries into records and records into entries, per the topology's format/serializer. */
export interface RecordCodec {
  /** Throws (DESERIALIZATION_ERROR) when the entry cannot be decoded at all. */
  decode(source: SourceSpec, entry: Buffer): DecodedRecord[];
  /** Serializes one output value with the sink's serializer (throws SERIALIZATION_ERROR). */
  serialize(sink: SinkSpec, value: unknown): Uint8Array;
  /** Encodes records into entries that each fit one PUT to `sink.topic` (envelope batches or plain text). */
  encode(sink: SinkSpec, records: OutRecord[]): string[];
  /**
   * Throws (MESSAGE_TOO_LARGE, INVALID_PAYLOAD) when `record` could never be
   * written to `sink` on its own, so it can be dead-lettered alone instead of
   * failing the whole batch it would be encoded in.
   */
  assertFits?(sink: SinkSpec, record: OutRecord): void;
}

/** Local durability of fetched entries (docs/architecture.md, "Delivery guarantees"); the journal helper's `Journal` fits it. */
export interface JournalLike {
  append(items: Array<{ source: string; entry: Buffer }>): Promise<number[]>;
  release(seqs: number[]): Promise<void>;
  unreleased(): Array<{ seq: number; source: string; entry: Buffer }>;
}

/** Runs batches of records through a stage group (the WorkerPool). */
export interface BatchRunner {
  process(group: GroupSpecWire, records: TaskRecord[]): Promise<GroupBatchResult>;
}
