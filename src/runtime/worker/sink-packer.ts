import { EntryPacker, resolveSerializer, serializeValue, toPlainTextEntry, valueBoundFor, type RecordToEncode, type Serializer } from '../../codec/index.js';
import { maxPayloadBytes } from '../../protocol/index.js';
import { PartitionRouter, partitionTopic } from '../../codec/partitioning.js';
import type { PackedUnit, SinkWire } from '../wire/messages.js';
import { WalrusError } from '../../errors/index.js';

interface Pending { sink: SinkWire; partition: number; items: RecordToEncode[]; records: number[] }

/** The longest Walrus topic a sink writes: entry limits depend on the topic's length. */
const longestTopic = (sink: SinkWire): string => partitionTopic(sink.topic, sink.partitions - 1, sink.partitions);

/**
 * Worker side of the sinks: outputs that go to sinks are serialized and
 * packed into ready-to-write entries here, so the coordinator's one thread
 * only moves whole entries (serializing and envelope-encoding every record
 * was the largest share of its CPU). `prepare` throws for an output that
 * cannot be serialized or can never fit an entry — the chain fails that one
 * member on that one record (non-retriable); its neighbours are packed as
 * usual. The entry packers (one per sink) live as long as the worker.
 */
export class SinkPacker {
  readonly #packers = new Map<string, EntryPacker>();
  /** Partitioned sinks: keyless records round-robin per worker. */
  readonly #routers = new Map<string, PartitionRouter>();
  /** Sizes the packers report while one `pack` call runs (see PackedUnit.compressed). */
  #compressed: number[] = [];

  /** Serializes one output for `sink` and checks it fits; throws SERIALIZATION_ERROR / MESSAGE_TOO_LARGE / INVALID_PAYLOAD. */
  prepare(sink: SinkWire, value: unknown, id: Uint8Array, key: string | undefined, headers: Record<string, string>, timestamp: number): RecordToEncode {
    // The entry limit also bounds arrays before they are serialized: a sparse one fails here, not after minutes.
    const bound = valueBoundFor(maxPayloadBytes(longestTopic(sink)), sink.format !== 'text' && sink.compression !== 'none');
    const bytes = serializeValue(resolveSerializer(sink.serializer) as Serializer<unknown>, value, sink.topic, bound);
    const item: RecordToEncode = { value: bytes, id, key, headers, timestamp };
    if (sink.format === 'text') toPlainTextEntry(bytes, maxPayloadBytes(longestTopic(sink)), sink.topic);
    else {
      try {
        this.#packer(sink).assertFits(item);
      } catch (error) {
        throw error instanceof WalrusError ? error : notEncodable(sink, item, error);
      }
    }
    return item;
  }

  /** A collector for one batch's prepared records. */
  batch(): SinkBatch {
    return new SinkBatch(this);
  }

  /** Packs each sink's records into entries. */
  pack(pending: Iterable<Pending>): PackedUnit[] {
    const units: PackedUnit[] = [];
    for (const { sink, partition, items, records } of pending) {
      this.#compressed = [];
      const entries = sink.format === 'text'
        ? items.map((item) => toPlainTextEntry(item.value, maxPayloadBytes(longestTopic(sink)), sink.topic))
        : this.#packer(sink).pack(items);
      const unit: PackedUnit = { sink: sink.name, entries, records };
      if (sink.partitions > 1) unit.partition = partition;
      if (this.#compressed.length > 0) unit.compressed = this.#compressed;
      units.push(unit);
    }
    return units;
  }

  #packer(sink: SinkWire): EntryPacker {
    let packer = this.#packers.get(sink.name);
    if (!packer) {
      packer = new EntryPacker({
        limit: maxPayloadBytes(longestTopic(sink)), topic: sink.topic, compression: sink.compression,
        compressionThreshold: sink.compressionThreshold, contentType: resolveSerializer(sink.serializer).contentType,
        onCompressed: (original, compressed) => { this.#compressed.push(original, compressed); },
      });
      this.#packers.set(sink.name, packer);
    }
    return packer;
  }

  /** The partition of a record written to `sink` (0 for an unpartitioned sink). */
  route(sink: SinkWire, key: string | undefined): number {
    if (sink.partitions <= 1) return 0;
    let router = this.#routers.get(sink.name);
    if (!router) { router = new PartitionRouter(sink.partitions); this.#routers.set(sink.name, router); }
    return router.route(key);
  }
}

/**
 * A record the envelope writer could not take: keys and header values are checked where a processor emits them,
 * but a value put into its input's headers in place (`record.headers.tier = 7`) is sent on with them unchecked.
 */
function notEncodable(sink: SinkWire, item: RecordToEncode, error: unknown): WalrusError {
  let what = item.key !== undefined && typeof item.key !== 'string' ? `its key is a ${typeof item.key}` : '';
  for (const name in item.headers) {
    const value = item.headers[name];
    if (what !== '' || typeof value === 'string') continue;
    what = `its header "${name}" is a ${typeof value} (a value set on record.headers in place is sent on too)`;
  }
  return new WalrusError('SERIALIZATION_ERROR',
    `A record for topic ${sink.topic} could not be encoded${what === '' ? '' : `: ${what}; keys and header values are strings`} (${(error as Error)?.message ?? String(error)}).`,
    { cause: error, retriable: false, context: { topic: sink.topic } });
}

/** The prepared sink records of one batch, by sink, with the input record each came from. */
export class SinkBatch {
  readonly #packer: SinkPacker;
  readonly #bySink = new Map<string, Pending>();

  constructor(packer: SinkPacker) {
    this.#packer = packer;
  }

  add(sink: SinkWire, item: RecordToEncode, index: number): void {
    // A partitioned sink is packed per partition: an entry holds records of one partition only.
    const partition = this.#packer.route(sink, item.key);
    const at = sink.partitions > 1 ? `${sink.name}\0${partition}` : sink.name;
    let pending = this.#bySink.get(at);
    if (pending === undefined) { pending = { sink, partition, items: [], records: [] }; this.#bySink.set(at, pending); }
    pending.items.push(item);
    pending.records.push(index);
  }

  pack(): PackedUnit[] {
    return this.#bySink.size === 0 ? [] : this.#packer.pack(this.#bySink.values());
  }
}
