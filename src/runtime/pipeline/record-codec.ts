import { EntryPacker, HEADERS, decodeEntry, encodeRecords, resolveSerializer, serializeValue, toPlainTextEntry,
  type Serializer } from '../../codec/index.js';
import { maxPayloadBytes } from '../../protocol/index.js';
import type { SinkSpec, SourceSpec } from '../../topology/types.js';
import type { DecodedRecord, OutRecord, RecordCodec } from './pipeline-io.js';

/**
 * The pipeline's codec on top of `src/codec`: entries (envelope batches or
 * plain text) to records and back, with the topology's serializers. Source
 * values stay bytes here: workers deserialize them (spreading that CPU over
 * the pool, and a value that does not parse fails only its own record).
 */
export class TopologyCodec implements RecordCodec {
  readonly #packers = new Map<string, EntryPacker>();
  readonly #onCompressed: ((sink: string, originalBytes: number, compressedBytes: number) => void) | undefined;

  /** @param onCompressed told the sizes of each sink entry stored compressed (the compression-ratio metric). */
  constructor(onCompressed?: (sink: string, originalBytes: number, compressedBytes: number) => void) {
    this.#onCompressed = onCompressed;
  }

  decode(source: SourceSpec, entry: Buffer): DecodedRecord[] {
    // The coordinator never mutates a record's headers (it copies first), so records may share them.
    const records = decodeEntry(entry, { topic: source.topic, shareHeaders: true });
    // A record read back from a repartition topic: a dead letter keeps it as re-keyed, without the internal origin
    // (replayed into the repartition topic, it is then processed again instead of being dropped as a copy).
    if (source.internal === 'repartition') {
      return records.map((r) => ({
        id: r.id, key: r.key, headers: r.headers, timestamp: r.timestamp, value: r.value, encoding: source.serializer,
        raw: () => encodeRecords([{ value: r.value, id: r.id, key: r.key, timestamp: r.timestamp, headers: withoutOrigin(r.headers) }]),
      }));
    }
    return records.map((r) => ({
      id: r.id, key: r.key, headers: r.headers, timestamp: r.timestamp, value: r.value, encoding: source.serializer,
      // One record in the entry: the entry itself is its original bytes.
      // Several: the record alone, re-encoded with its id, key, headers and
      // exact value bytes, so a dead letter replays just that record.
      raw: records.length === 1
        ? () => entry.toString('utf8')
        : () => encodeRecords([{ value: r.value, id: r.id, key: r.key, timestamp: r.timestamp, headers: r.headers }]),
    }));
  }

  serialize(sink: SinkSpec, value: unknown): Uint8Array {
    return serializeValue(resolveSerializer(sink.serializer) as Serializer<unknown>, value, sink.topic);
  }

  encode(sink: SinkSpec, records: OutRecord[]): string[] {
    const limit = maxPayloadBytes(sink.topic);
    if (sink.format === 'text') return records.map((r) => toPlainTextEntry(r.value, limit, sink.topic));
    return this.#packer(sink, limit).pack(records);
  }

  assertFits(sink: SinkSpec, record: OutRecord): void {
    const limit = maxPayloadBytes(sink.topic);
    if (sink.format === 'text') toPlainTextEntry(record.value, limit, sink.topic);
    else this.#packer(sink, limit).assertFits(record);
  }

  #packer(sink: SinkSpec, limit: number): EntryPacker {
    let packer = this.#packers.get(sink.name);
    if (!packer) {
      packer = new EntryPacker({
        limit, topic: sink.topic,
        compression: sink.compression.codec, compressionThreshold: sink.compression.threshold,
        contentType: resolveSerializer(sink.serializer).contentType,
        onCompressed: this.#onCompressed && ((original, compressed) => this.#onCompressed?.(sink.name, original, compressed)),
      });
      this.#packers.set(sink.name, packer);
    }
    return packer;
  }
}

function withoutOrigin(headers: Record<string, string>): Record<string, string> {
  if (headers[HEADERS.ORIGIN] === undefined) return headers;
  const copy = { ...headers };
  delete copy[HEADERS.ORIGIN];
  return copy;
}
