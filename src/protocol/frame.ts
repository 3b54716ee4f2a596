import { WalrusError } from '../errors/index.js';
import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from './limits.js';

/** Prefixes `body` with its u32 little-endian length. Throws FRAME_TOO_LARGE / INVALID_FRAME instead of ever producing a frame the node would reject. */
export function encodeFrame(body: string | Uint8Array, maxFrameBytes = MAX_FRAME_BYTES): Buffer {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  checkFrameLength(length, maxFrameBytes);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  frame.writeUInt32LE(length, 0);
  if (typeof body === 'string') frame.write(body, FRAME_HEADER_BYTES, 'utf8');
  else frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

export function checkFrameLength(length: number, maxFrameBytes = MAX_FRAME_BYTES): void {
  if (length === 0) throw new WalrusError('INVALID_FRAME', 'Refusing to send an empty frame: the node answers `ERR invalid frame length`.');
  if (length > maxFrameBytes) {
    throw new WalrusError(
      'FRAME_TOO_LARGE',
      `Frame of ${length} bytes exceeds the protocol limit of ${maxFrameBytes} bytes; nothing was sent. Split the data or enable compression.`,
      { context: { size: length, limit: maxFrameBytes } },
    );
  }
}

/** One unit out of the decoder: a frame body, or a length the protocol forbids. */
export type DecodedFrame =
  | { kind: 'frame'; body: Buffer }
  | { kind: 'invalid-length'; length: number };

/**
 * Incremental frame decoder for either side of a connection (the client's
 * reply reader and the embedded node's request reader use this one class).
 *
 * Accepts the byte stream in any split (a frame over many chunks, many
 * frames in one chunk). Received chunks are kept in a list, never
 * re-concatenated: a body is a zero-copy view when it lies within one
 * chunk, and is copied exactly once, when complete, when it spans chunks.
 * A peer dripping a 64 KiB frame one byte per packet therefore costs 64 KiB
 * of copying, not the gigabytes that re-joining the unread tail on every
 * chunk would, and a node that stops decoding for a while (a client that
 * does not read its replies) holds the chunks as they came.
 *
 * A length of 0 or above the limit is reported as `invalid-length` *before*
 * anything is allocated for it; the header is consumed and the body is not
 * (the stock node's behaviour: length 0 has no body, so the stream stays in
 * sync), and the owner decides whether to go on reading or close.
 */
/** Chunks up to this size are gathered into a tail buffer rather than kept one by one. */
const SMALL_CHUNK_BYTES = 2048;
const TAIL_BYTES = 16 * 1024;

export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  /** Index of the first unread chunk (spent chunks before it are dropped lazily, never shifted one by one). */
  #first = 0;
  /** Read offset into `#chunks[#first]`. */
  #head = 0;
  /** Unread bytes across all chunks. */
  #available = 0;
  /** Where small chunks are gathered (the last entry of `#chunks` views `[#tailStart, #tailUsed)` of it while it fills). */
  #tail: Buffer | undefined;
  #tailStart = 0;
  #tailUsed = 0;

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const partial = this.#available > 0;
    this.#available += chunk.length;
    if (partial && chunk.length <= SMALL_CHUNK_BYTES) {
      // Small chunks that continue a partial frame are copied into a tail buffer
      // of our own: each kept as it came cost ~26x its bytes (a peer dripping a
      // 64 KiB frame in tiny packets held 1.7 MiB per connection). A chunk that
      // starts afresh is kept as it is (frames in it decode zero-copy).
      const last = this.#chunks.length - 1;
      const tail = this.#tail;
      if (tail !== undefined && last >= this.#first && this.#chunks[last]!.buffer === tail.buffer && tail.length - this.#tailUsed >= chunk.length) {
        chunk.copy(tail, this.#tailUsed);
        this.#tailUsed += chunk.length;
        this.#chunks[last] = tail.subarray(this.#tailStart, this.#tailUsed);
        return;
      }
      this.#tail = Buffer.allocUnsafeSlow(TAIL_BYTES);
      chunk.copy(this.#tail, 0);
      this.#tailStart = 0;
      this.#tailUsed = chunk.length;
      this.#chunks.push(this.#tail.subarray(0, this.#tailUsed));
      return;
    }
    this.#tail = undefined;
    this.#chunks.push(chunk);
  }

  /** Bytes received but not yet returned as a frame (a partial header or body). */
  get pendingBytes(): number {
    return this.#available;
  }

  /** The next complete unit, or undefined when more bytes are needed. */
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
