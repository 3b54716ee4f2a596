import { decodeEntry, encodeRecords, resolveSerializer, serializeValue, toPlainTextEntry, type Serializer } from '../codec/index.js';
import { WalrusError } from '../errors/index.js';
import { maxPayloadBytes } from '../protocol/index.js';
import { parseDeadLetter } from '../runtime/coordinator/dead-letter.js';
import type { SinkSpec, SourceSpec, Topology } from '../topology/types.js';

/** A record piped into a source. */
export interface TestInputRecord {
  value: unknown;
  /** Envelope sources only. */
  key?: string;
  /** Envelope sources only. */
  headers?: Record<string, string>;
  /** Event time, epoch ms or a Date (envelope sources only). @default the driver clock's now */
  timestamp?: number | Date;
  /** Record id (envelope sources only; 22 base64url characters or any string). @default a new random id */
  id?: string;
}

/** A record a sink received, value deserialized with the sink's serializer. */
export interface TestOutputRecord {
  id: string;
  key?: string;
  value: unknown;
  headers: Record<string, string>;
  timestamp: number;
  topic: string;
}

/** A dead-lettered record with what the dead-letter entry says about it. */
export interface TestDeadLetter {
  /** The dead-letter topic. */
  topic: string;
  /** Processor that gave up (`(decode)` for an entry that could not be decoded). */
  processor: string;
  /** Error code (src/errors/codes.ts), e.g. NON_RETRIABLE, PROCESSOR_ERROR, LATE_RECORD. */
  code: string;
  message: string;
  attempts: number;
  recordId: string;
  key?: string;
  sourceTopic: string;
  firstFailureAt: string;
  lastFailureAt: string;
  /** The original source entry, byte-exact. */
  entry: string;
  /** The original record's value, deserialized with its source's serializer (undefined when it does not decode). */
  value?: unknown;
}

/** The Walrus entry a source would hold for `record` (envelope or plain text, per the source). */
export function inputEntry(source: SourceSpec, record: TestInputRecord, now: number): string {
  if (record === null || typeof record !== 'object' || !('value' in record)) {
    throw new WalrusError('INVALID_ARGUMENT', `a record piped into source "${source.name}" must be an object with a "value" (got ${JSON.stringify(record)})`);
  }
  const bytes = serializeValue(resolveSerializer(source.serializer) as Serializer<unknown>, record.value, source.topic);
  if (source.format === 'text') {
    const extra = (['key', 'headers', 'timestamp', 'id'] as const).filter((f) => record[f] !== undefined);
    if (extra.length > 0) {
      throw new WalrusError('INVALID_ARGUMENT',
        `source "${source.name}" reads plain-text entries, which carry no ${extra.join(', ')}; drop ${extra.length === 1 ? 'it' : 'them'} or use format: envelope`);
    }
    return toPlainTextEntry(bytes, maxPayloadBytes(source.topic), source.topic);
  }
  const timestamp = record.timestamp instanceof Date ? record.timestamp.getTime() : record.timestamp ?? now;
  if (!Number.isSafeInteger(timestamp)) {
    throw new WalrusError('INVALID_ARGUMENT', `timestamp of a record piped into source "${source.name}" must be an integer of epoch ms or a Date (got ${String(record.timestamp)})`);
  }
  return encodeRecords([{ value: bytes, id: record.id, key: record.key, headers: record.headers, timestamp }]);
}

/** Decodes the entries a sink's topic received into records. */
export function sinkRecords(sink: SinkSpec, entries: readonly string[]): TestOutputRecord[] {
  const serializer = resolveSerializer(sink.serializer) as Serializer<unknown>;
  return entries.flatMap((entry) => decodeEntry(entry, { topic: sink.topic }).map((r) => ({
    id: r.id, ...(r.key === undefined ? {} : { key: r.key }), value: serializer.deserialize(r.value), headers: r.headers, timestamp: r.timestamp, topic: sink.topic,
  })));
}

/** Parses one dead-letter entry (and, when it can, the original record's value). */
export function deadLetterRecord(topology: Topology, topic: string, text: string): TestDeadLetter {
  const d = parseDeadLetter(text);
  return {
    topic, processor: d.processor, code: d.error.code, message: d.error.message, attempts: d.attempts, recordId: d.recordId,
    ...(d.key === undefined ? {} : { key: d.key }), sourceTopic: d.sourceTopic, firstFailureAt: d.firstFailureAt, lastFailureAt: d.lastFailureAt,
    entry: d.original, value: originalValue(topology, d.sourceTopic, d.original),
  };
}

function originalValue(topology: Topology, sourceTopic: string, entry: string): unknown {
  const source = Object.values(topology.sources).find((s) => s.topic === sourceTopic);
  if (!source) return undefined;
  try {
    const [record] = decodeEntry(entry, { topic: sourceTopic });
    return record === undefined ? undefined : (resolveSerializer(source.serializer) as Serializer<unknown>).deserialize(record.value);
  } catch {
    return undefined;
  }
}
