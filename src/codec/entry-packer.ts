import { WalrusError } from '../errors/index.js';
import { batchOverheadBound, encodeBatch, recordBound, type EncodeOptions } from './envelope-encode.js';
import { maxBatchBytes } from './envelope-format.js';
import type { RecordToEncode } from './record-types.js';

/** Options of an {@link EntryPacker}. */
export interface PackerOptions extends EncodeOptions {
  /** Largest entry in bytes, usually `maxPayloadBytes(topic)`. */
  limit: number;
  /** Topic, for error messages. */
  topic?: string;
}

/**
 * Packs records into as few envelope entries as fit the entry limit.
 *
 * Without compression, records are packed by an upper bound of their encoded
 * size, so every batch fits on the first try. With compression the size is
 * only known after compressing; the packer sizes batches by the ratio it
 * observed on the previous batch (so compressible data gets many more
 * records per entry) and splits a batch in halves when it still does not fit.
 */
export class EntryPacker {
  readonly #opts: PackerOptions;
  /** Last observed compressed/raw ratio (1 before any compression). */
  #ratio = 1;
  /** Record bytes (upper bound) that surely fit one entry: the send-time fast path. */
  readonly #room: number;

  constructor(opts: PackerOptions) {
    if (!Number.isInteger(opts.limit) || opts.limit < 64) {
      throw new WalrusError('CONFIG_INVALID', `The entry limit must be an integer of at least 64 bytes, got ${opts.limit}.`);
    }
    this.#opts = opts;
    this.#room = maxBatchBytes(opts.limit) - batchOverheadBound(opts.contentType);
  }

  get limit(): number {
    return this.#opts.limit;
  }

  /**
   * Throws MESSAGE_TOO_LARGE (with `size` and `limit` in its context) when
   * `record` cannot fit in an entry even alone, after compression.
   */
  assertFits(record: RecordToEncode, bound: number = recordBound(record)): void {
    if (bound <= this.#room) return;
    const { limit } = this.#opts;
    const size = encodeBatch([record], this.#opts).entry.length;
    if (size > limit) throw this.#tooLarge(size, record.value.byteLength);
  }

  /** Encodes `records` (in order) into entries that each fit the limit. */
  pack(records: readonly RecordToEncode[]): string[] {
    const out: string[] = [];
    if (records.length === 0) return out;
    const room = this.#room;
    const compressing = (this.#opts.compression ?? 'none') !== 'none';
    // 10% margin so a slightly less compressible batch still fits first time.
    const capacity = compressing ? Math.floor(room / Math.max(0.02, Math.min(1, this.#ratio * 1.1))) : room;
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const b = recordBound(records[i]!);
      if (i > start && bytes + b > capacity) {
        this.#emit(records.slice(start, i), out);
        start = i;
        bytes = 0;
      }
      bytes += b;
    }
    this.#emit(start === 0 ? records : records.slice(start), out);
    return out;
  }

  #emit(chunk: readonly RecordToEncode[], out: string[]): void {
    const encoded = encodeBatch(chunk, this.#opts);
    if (encoded.compressed) this.#ratio = (encoded.entry.length * 0.75) / encoded.rawBytes;
    else if ((this.#opts.compression ?? 'none') !== 'none' && encoded.rawBytes >= (this.#opts.compressionThreshold ?? 0)) this.#ratio = 1;
    if (encoded.entry.length <= this.#opts.limit) {
      out.push(encoded.entry);
      return;
    }
    if (chunk.length === 1) throw this.#tooLarge(encoded.entry.length, chunk[0]!.value.byteLength);
    const half = chunk.length >>> 1;
    this.#emit(chunk.slice(0, half), out);
    this.#emit(chunk.slice(half), out);
  }

  #tooLarge(size: number, valueBytes: number): WalrusError {
    const { limit, topic, compression = 'none' } = this.#opts;
    const hint = compression === 'none' ? 'enable compression or split the value' : 'split the value';
    return new WalrusError(
      'MESSAGE_TOO_LARGE',
      `A record of ${valueBytes} value bytes encodes to a ${size}-byte entry${compression === 'none' ? '' : ` after ${compression} compression`}, above the ${limit}-byte limit of one Walrus entry${topic ? ` for topic ${topic}` : ''}; ${hint}.`,
      { context: { size, limit, ...(topic ? { topic } : {}) } },
    );
  }
}
