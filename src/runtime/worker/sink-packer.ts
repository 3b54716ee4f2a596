import { EntryPacker, resolveSerializer, serializeValue, toPlainTextEntry, type RecordToEncode, type Serializer } from '../../codec/index.js';
import { serializeError } from '../../errors/index.js';
import { maxPayloadBytes } from '../../protocol/index.js';
import type { PackedUnit, ProcessorSpecWire, SinkWire, WireOutput, WireRecord, WireResult } from '../wire/messages.js';
import { deriveRecordIdBytes } from '../wire/record-ids.js';

interface Group { sink: SinkWire; items: RecordToEncode[]; records: number[] }

/**
 * Worker side of the sinks: outputs read only by sinks are serialized and
 * packed into ready-to-write entries here, so the coordinator's one thread
 * only moves whole entries (serializing and envelope-encoding every record
 * was the largest share of its CPU). A record whose output cannot be
 * serialized or does not fit an entry fails on its own (non-retriable, so it
 * is dead-lettered); its neighbours are packed as usual. Plain loops, ids as
 * bytes: this runs for every record at full speed.
 */
export class SinkPacker {
  readonly #packers = new Map<string, EntryPacker>();
  /** Sizes the packers report while one `pack` call runs (see PackedUnit.compressed). */
  #compressed: number[] = [];

  pack(spec: ProcessorSpecWire, records: WireRecord[], results: WireResult[]): PackedUnit[] {
    const routes = spec.sinks;
    if (!routes) return [];
    const groups = new Map<string, Group>();
    let pending: Array<{ sink: SinkWire; item: RecordToEncode }> = [];
    for (let i = 0; i < results.length; i++) {
      const result = results[i];
      if (!result.ok || result.outputs.length === 0) continue;
      const record = records[i];
      let keep: WireOutput[] | undefined;
      let sunk = 0;
      pending = [];
      try {
        for (let index = 0; index < result.outputs.length; index++) {
          const out = result.outputs[index];
          const sinks = routes[out.output];
          if (sinks === undefined) {
            keep ??= [];
            keep.push(index === keep.length ? out : { ...out, index });
            continue;
          }
          sunk += 1;
          const id = deriveRecordIdBytes(record.id, spec.name, index);
          const key = 'key' in out ? out.key : record.key;
          const headers = out.headers ?? record.headers;
          for (const sink of sinks) {
            const value = serializeValue(resolveSerializer(sink.serializer) as Serializer<unknown>, out.value, sink.topic);
            const item: RecordToEncode = { value, id, key, headers, timestamp: record.timestamp };
            if (sink.format === 'text') toPlainTextEntry(value, maxPayloadBytes(sink.topic), sink.topic);
            else this.#packer(sink).assertFits(item);
            pending.push({ sink, item });
          }
        }
      } catch (error) {
        results[i] = { ok: false, error: { ...serializeError(error), retriable: false }, durationMs: result.durationMs };
        continue;
      }
      result.outputs = keep ?? [];
      result.sunk = sunk;
      for (const { sink, item } of pending) {
        let group = groups.get(sink.name);
        if (group === undefined) { group = { sink, items: [], records: [] }; groups.set(sink.name, group); }
        group.items.push(item);
        group.records.push(i);
      }
    }
    const units: PackedUnit[] = [];
    for (const { sink, items, records: indexes } of groups.values()) {
      this.#compressed = [];
      const entries = sink.format === 'text'
        ? items.map((item) => toPlainTextEntry(item.value, maxPayloadBytes(sink.topic), sink.topic))
        : this.#packer(sink).pack(items);
      const unit: PackedUnit = { sink: sink.name, entries, records: indexes };
      if (this.#compressed.length > 0) unit.compressed = this.#compressed;
      units.push(unit);
    }
    return units;
  }

  #packer(sink: SinkWire): EntryPacker {
    let packer = this.#packers.get(sink.name);
    if (!packer) {
      packer = new EntryPacker({
        limit: maxPayloadBytes(sink.topic), topic: sink.topic, compression: sink.compression,
        compressionThreshold: sink.compressionThreshold, contentType: resolveSerializer(sink.serializer).contentType,
        onCompressed: (original, compressed) => { this.#compressed.push(original, compressed); },
      });
      this.#packers.set(sink.name, packer);
    }
    return packer;
  }
}
