import type { DecodedFrame } from '../protocol/frame.js';
import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from '../protocol/limits.js';

/**
 * The node's incremental frame reader. Same results as the protocol
 * layer's FrameDecoder, but it keeps received chunks in a list and copies a
 * frame's bytes once, when the frame is complete. A hostile client dripping
 * a 64 KiB frame one byte per packet therefore costs 64 KiB of copying, not
 * the 2 GiB that re-concatenating the unread tail on every chunk would.
 * Bodies within one chunk are zero-copy views.
 */
export class FrameReader {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  /** Index of the first unread chunk (chunks before it are spent; compacted lazily, never shifted one by one). */
  #first = 0;
  /** Read offset into `#chunks[#first]`. */
  #head = 0;
  /** Unread bytes across all chunks. */
  #available = 0;

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#available += chunk.length;
  }

  get pendingBytes(): number {
    return this.#available;
  }

  next(): DecodedFrame | undefined {
    if (this.#available < FRAME_HEADER_BYTES) return undefined;
    const first = this.#chunks[this.#first]!;
    const length = first.length - this.#head >= FRAME_HEADER_BYTES
      ? first.readUInt32LE(this.#head)
      : this.#take(FRAME_HEADER_BYTES, false).readUInt32LE(0);
    if (length === 0 || length > this.#maxFrameBytes) {
      this.#skip(FRAME_HEADER_BYTES);
      return { kind: 'invalid-length', length };
    }
    if (this.#available < FRAME_HEADER_BYTES + length) return undefined;
    this.#skip(FRAME_HEADER_BYTES);
    return { kind: 'frame', body: this.#take(length, true) };
  }

  /** The next `n` bytes (a view when they lie in one chunk, else one copy); consumes them when `consume`. */
  #take(n: number, consume: boolean): Buffer {
    const first = this.#chunks[this.#first]!;
    if (first.length - this.#head >= n) {
      const view = first.subarray(this.#head, this.#head + n);
      if (consume) this.#skip(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    let index = this.#first;
    let offset = this.#head;
    while (copied < n) {
      const chunk = this.#chunks[index]!;
      const count = Math.min(n - copied, chunk.length - offset);
      chunk.copy(out, copied, offset, offset + count);
      copied += count;
      index++;
      offset = 0;
    }
    if (consume) this.#skip(n);
    return out;
  }

  #skip(n: number): void {
    this.#available -= n;
    let left = n;
    while (left > 0) {
      const inFirst = this.#chunks[this.#first]!.length - this.#head;
      if (left < inFirst) {
        this.#head += left;
        return;
      }
      left -= inFirst;
      this.#first++;
      this.#head = 0;
    }
    if (this.#first === this.#chunks.length) {
      this.#chunks = [];
      this.#first = 0;
    } else if (this.#first > 64 && this.#first * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
  }
}
