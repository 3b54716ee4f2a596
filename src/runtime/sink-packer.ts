import { EntryPacker, resolveSerializer, serializeValue, toPlainTextEntry, type RecordToEncode, type Serializer } from '../codec/index.js';
import { serializeError } from '../errors/index.js';
import { maxPayloadBytes } from '../protocol/index.js';
import type { PackedUnit, ProcessorSpecWire, SinkWire, WireOutput, WireRecord, WireResult } from './messages.js';
import { deriveRecordId } from './record-ids.js';

/**
 * Worker side of the sinks: outputs read only by sinks are serialized and
 * packed into ready-to-write entries here, so the coordinator's one thread
 * only moves whole entries (serializing and envelope-encoding every record
 * was the largest share of its CPU). A record whose output cannot be
 * serialized or does not fit an entry fails on its own (non-retriable, so it
 * is dead-lettered); its neighbours are packed as usual.
 */
export class SinkPacker {
  readonly #packers = new Map<string, EntryPacker>();

  pack(spec: ProcessorSpecWire, records: WireRecord[], results: WireResult[]): PackedUnit[] {
    const routes = spec.sinks;
    if (!routes || Object.keys(routes).length === 0) return [];
    const bySink = new Map<string, { sink: SinkWire; items: RecordToEncode[]; records: number[] }>();
    results.forEach((result, i) => {
      if (!result.ok) return;
      const record = records[i];
      const mine: Array<{ sink: SinkWire; item: RecordToEncode }> = [];
      const keep: WireOutput[] = [];
      let sunk = 0;
      try {
        result.outputs.forEach((out, index) => {
          const sinks = routes[out.output];
          if (!sinks) { keep.push(index === keep.length ? out : { ...out, index }); return; }
          sunk += 1;
          const item: Omit<RecordToEncode, 'value'> = {
            id: deriveRecordId(record.id, spec.name, index),
            key: 'key' in out ? out.key : record.key,
            headers: out.headers ?? record.headers,
            timestamp: record.timestamp,
          };
          for (const sink of sinks) {
            const value = serializeValue(resolveSerializer(sink.serializer) as Serializer<unknown>, out.value, sink.topic);
            const full = { ...item, value };
            if (sink.format === 'text') toPlainTextEntry(value, maxPayloadBytes(sink.topic), sink.topic);
            else this.#packer(sink).assertFits(full);
            mine.push({ sink, item: full });
          }
        });
      } catch (error) {
        results[i] = { ok: false, error: { ...serializeError(error), retriable: false }, durationMs: result.durationMs };
        return;
      }
      result.outputs = keep;
      result.sunk = sunk;
      for (const { sink, item } of mine) {
        let group = bySink.get(sink.name);
        if (!group) { group = { sink, items: [], records: [] }; bySink.set(sink.name, group); }
        group.items.push(item);
        group.records.push(i);
      }
    });
    return [...bySink.values()].map(({ sink, items, records: indexes }) => ({
      sink: sink.name,
      records: indexes,
      entries: sink.format === 'text'
        ? items.map((item) => toPlainTextEntry(item.value, maxPayloadBytes(sink.topic), sink.topic))
        : this.#packer(sink).pack(items),
    }));
  }

  #packer(sink: SinkWire): EntryPacker {
    let packer = this.#packers.get(sink.name);
    if (!packer) {
      packer = new EntryPacker({
        limit: maxPayloadBytes(sink.topic), topic: sink.topic, compression: sink.compression,
        compressionThreshold: sink.compressionThreshold, contentType: resolveSerializer(sink.serializer).contentType,
      });
      this.#packers.set(sink.name, packer);
    }
    return packer;
  }
}
