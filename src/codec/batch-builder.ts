import { WalrusError } from '../errors/index.js';
import { compress, flagFor, type CompressionCodec } from './compression.js';
import { DEFAULT_COMPRESSION_THRESHOLD, batchOverheadBound, boundOf, writeHead, writeRecord } from './envelope-encode.js';
import { ENVELOPE_MAGIC, MAX_ENTRY_RECORDS, maxBatchBytes } from './envelope-format.js';
import { MsgpackWriter } from './msgpack-writer.js';

/** Options of a {@link BatchBuilder}. */
export interface BatchBuilderOptions {
  /** Largest entry in bytes, usually `maxPayloadBytes(topic)`. */
  limit: number;
  /** Topic, for error messages. */
  topic?: string;
  /** @default 'none' */
  compression?: CompressionCodec;
  /** @default 1024 */
  compressionThreshold?: number;
  /** Stored once per entry as the values' content type. */
  contentType?: string;
  /**
   * Called once per built entry that is stored compressed, with its record
   * bytes before and after compression (a plain callback, so the codec needs
   * no metrics library; the pipeline feeds `walrus_stream_compression_ratio`).
   */
  onCompressed?: (originalBytes: number, compressedBytes: number) => void;
}

/** The compressed/raw ratio last observed, shared by the builders of one producer. */
export interface RatioMemo {
  ratio: number;
}

/**
 * Builds the envelope entries of one producer batch as records arrive.
 *
 * Each `add` writes the record's MessagePack bytes straight into one growing
 * buffer (no object per record survives until the write, which keeps the
 * garbage collector out of the producer's hot path) and checks at once that
 * it can fit an entry — alone and after compression if need be — so a record
 * too large fails its own `send` and nothing else. `build` then cuts the
 * buffer at record boundaries into entries that fit the limit: by exact size
 * without compression; by the last observed ratio with compression, halving
 * a chunk that still does not fit; and never more than MAX_ENTRY_RECORDS
 * records in one entry (readers refuse more).
 */
export class BatchBuilder {
  readonly #o: BatchBuilderOptions;
  readonly #memo: RatioMemo;
  /** Record bytes one uncompressed entry holds. */
  readonly #room: number;
  readonly #overhead: number;
  readonly #w: MsgpackWriter;
  /** End offset of each record in the buffer. */
  readonly #ends: number[] = [];
  #base = 0;
  /** Sizes (original, compressed) of the last `#encode` when it compressed; reported only for entries `build` keeps. */
  #lastOriginal = 0;
  #lastCompressed = 0;

  constructor(opts: BatchBuilderOptions, memo: RatioMemo = { ratio: 1 }, initialCapacity = 4096) {
    if (!Number.isInteger(opts.limit) || opts.limit < 64) {
      throw new WalrusError('CONFIG_INVALID', `The entry limit must be an integer of at least 64 bytes, got ${opts.limit}.`);
    }
    this.#o = opts;
    this.#memo = memo;
    this.#overhead = batchOverheadBound(opts.contentType);
    this.#room = maxBatchBytes(opts.limit) - this.#overhead;
    this.#w = new MsgpackWriter(initialCapacity);
  }

  /** Records added. */
  get count(): number {
    return this.#ends.length;
  }

  /** MessagePack bytes of the records added (before compression). */
  get bytes(): number {
    return this.#w.pos;
  }

  /**
   * Appends one record (the value bytes are copied). Throws MESSAGE_TOO_LARGE
   * with `size` and `limit` — and appends nothing — when the record cannot
   * fit one entry even alone, after compression.
   */
  add(value: Uint8Array, timestamp: number, key?: string, headers?: Record<string, string>, id?: string | Uint8Array): void {
    const w = this.#w;
    if (this.#ends.length === 0) this.#base = timestamp;
    const start = w.pos;
    w.ensure(boundOf(value, id, key, headers));
    writeRecord(w, value, timestamp, this.#base, id, key, headers);
    if (w.pos - start > this.#room) {
      // Past the (conservative) room: encode it alone to know exactly —
      // compressed when compression is on.
      const size = this.#encode(start, w.pos, 1).length;
      if (size > this.#o.limit) {
        w.pos = start;
        throw this.#tooLarge(size, value.byteLength);
      }
    }
    this.#ends.push(w.pos);
  }

  /** The entries holding every record added, in order, each within the limit. */
  build(): string[] {
    const out: string[] = [];
    const n = this.#ends.length;
    if (n === 0) return out;
    const compressing = (this.#o.compression ?? 'none') !== 'none';
    // 10% margin so a slightly less compressible chunk still fits first time.
    const capacity = compressing ? Math.floor(this.#room / Math.max(0.02, Math.min(1, this.#memo.ratio * 1.1))) : this.#room;
    let first = 0;
    let from = 0;
    for (let i = 1; i < n; i++) {
      if (this.#ends[i]! - from > capacity || i - first >= MAX_ENTRY_RECORDS) {
        this.#emit(first, i - 1, out);
        first = i;
        from = this.#ends[i - 1]!;
      }
    }
    this.#emit(first, n - 1, out);
    return out;
  }

  #emit(first: number, last: number, out: string[]): void {
    const from = first === 0 ? 0 : this.#ends[first - 1]!;
    const count = last - first + 1;
    const entry = this.#encode(from, this.#ends[last]!, count);
    if (entry.length <= this.#o.limit) {
      out.push(entry);
      if (this.#lastCompressed > 0) this.#o.onCompressed?.(this.#lastOriginal, this.#lastCompressed);
      return;
    }
    // add() checked every record alone, so halving always ends in entries that fit.
    const mid = first + (count >>> 1) - 1;
    this.#emit(first, mid, out);
    this.#emit(mid + 1, last, out);
  }

  /** One entry for the `count` records in buffer bytes [from, to). */
  #encode(from: number, to: number, count: number): string {
    const body = this.#w.buf.subarray(from, to);
    const codec = this.#o.compression ?? 'none';
    const ct = this.#o.contentType;
    this.#lastCompressed = 0;
    if (codec !== 'none') {
      const inner = new MsgpackWriter(body.length + 5);
      inner.arrayHeader(count);
      inner.buf.set(body, inner.pos);
      inner.pos += body.length;
      if (inner.pos >= (this.#o.compressionThreshold ?? DEFAULT_COMPRESSION_THRESHOLD)) {
        const z = compress(codec, inner.bytes());
        this.#memo.ratio = Math.min(1, z.length / inner.pos);
        // Only flag compression when it pays: incompressible data stays as is.
        if (z.length < inner.pos) {
          this.#lastOriginal = inner.pos;
          this.#lastCompressed = z.length;
          const w = new MsgpackWriter(z.length + this.#overhead);
          writeHead(w, this.#base, ct, 2);
          w.str('c');
          w.str(flagFor(codec));
          w.str('z');
          w.bin(z);
          return ENVELOPE_MAGIC + w.bytes().toString('base64url');
        }
      }
      const w = new MsgpackWriter(inner.pos + this.#overhead);
      writeHead(w, this.#base, ct, 1);
      w.str('r');
      w.buf.set(inner.bytes(), w.pos);
      w.pos += inner.pos;
      return ENVELOPE_MAGIC + w.bytes().toString('base64url');
    }
    const w = new MsgpackWriter(body.length + this.#overhead);
    writeHead(w, this.#base, ct, 1);
    w.str('r');
    w.arrayHeader(count);
    w.buf.set(body, w.pos);
    w.pos += body.length;
    return ENVELOPE_MAGIC + w.bytes().toString('base64url');
  }

  #tooLarge(size: number, valueBytes: number): WalrusError {
    const { limit, topic, compression = 'none' } = this.#o;
    const hint = compression === 'none' ? 'enable compression or split the value' : 'split the value';
    return new WalrusError(
      'MESSAGE_TOO_LARGE',
      `A record of ${valueBytes} value bytes encodes to a ${size}-byte entry${compression === 'none' ? '' : ` after ${compression} compression`}, above the ${limit}-byte limit of one Walrus entry${topic ? ` for topic ${topic}` : ''}; ${hint}.`,
      { context: { size, limit, ...(topic ? { topic } : {}) } },
    );
  }
}
