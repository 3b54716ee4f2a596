import { BatchBuilder, type BatchBuilderOptions, type RatioMemo } from './batch-builder.js';
import { assertTimestamp, batchOverheadBound, recordBound, type EncodeOptions } from './envelope-encode.js';
import { maxBatchBytes } from './envelope-format.js';
import type { RecordToEncode } from './record-types.js';

/** Options of an {@link EntryPacker}. */
export interface PackerOptions extends EncodeOptions, BatchBuilderOptions {}

/**
 * Packs ready-made records into as few envelope entries as fit the entry
 * limit (the pipeline's sinks use it; the Producer uses {@link BatchBuilder}
 * directly, record by record). Remembers the compression ratio between calls
 * so compressible data gets many more records per entry.
 */
export class EntryPacker {
  readonly #opts: PackerOptions;
  readonly #memo: RatioMemo = { ratio: 1 };
  /** Record bytes (upper bound) that surely fit one entry: the allocation-free fast path of assertFits. */
  readonly #room: number;

  constructor(opts: PackerOptions) {
    this.#opts = opts;
    new BatchBuilder(opts, this.#memo, 16); // validates the options now
    this.#room = maxBatchBytes(opts.limit) - batchOverheadBound(opts.contentType);
  }

  get limit(): number {
    return this.#opts.limit;
  }

  /**
   * Throws MESSAGE_TOO_LARGE (with `size` and `limit` in its context) when
   * `record` cannot fit in an entry even alone, after compression; and
   * INVALID_ARGUMENT when its timestamp cannot be written (so `pack` never
   * fails on a record that passed).
   */
  assertFits(record: RecordToEncode): void {
    if (record.timestamp !== undefined) assertTimestamp(record.timestamp);
    // Most records are far below the limit: decide by arithmetic, no encoding.
    if (recordBound(record) <= this.#room) return;
    this.#builder(record.value.byteLength + 256, [record]);
  }

  /** Encodes `records` (in order) into entries that each fit the limit. */
  pack(records: readonly RecordToEncode[]): string[] {
    let bytes = 0;
    for (const r of records) bytes += r.value.byteLength + 32;
    return this.#builder(bytes, records).build();
  }

  #builder(capacity: number, records: readonly RecordToEncode[]): BatchBuilder {
    const builder = new BatchBuilder(this.#opts, this.#memo, capacity);
    const now = this.#opts.now ?? Date.now;
    for (const r of records) builder.add(r.value, r.timestamp ?? now(), r.key, r.headers, r.id);
    return builder;
  }
}
