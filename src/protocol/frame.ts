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
 * Incremental frame decoder for either side of a connection.
 *
 * Accepts the byte stream in any split (a frame over many chunks, many
 * frames in one chunk). Bodies are zero-copy views into the received chunk
 * whenever a frame lies within one chunk. A frame split across chunks is
 * copied once into a buffer of its exact (already validated) length, so a
 * peer dripping a frame byte by byte costs linear, not quadratic, time.
 * A length of 0 or above the limit is reported as `invalid-length` *before*
 * anything is allocated for it; the header is consumed and the body is not
 * (the stock node's behaviour), so the owner decides whether to go on
 * reading or close.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #buffer: Buffer = EMPTY;
  #offset = 0;
  /** Body of a frame whose header arrived but whose body spans chunks. */
  #partial: Buffer | undefined;
  #partialFilled = 0;

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  push(chunk: Buffer): void {
    if (this.#partial !== undefined && this.#partialFilled < this.#partial.length) {
      const n = Math.min(this.#partial.length - this.#partialFilled, chunk.length);
      chunk.copy(this.#partial, this.#partialFilled, 0, n);
      this.#partialFilled += n;
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    const remaining = this.#buffer.length - this.#offset;
    if (remaining === 0) {
      this.#buffer = chunk;
    } else {
      // Only unread bytes are copied: normally a partial header (< 4 bytes).
      this.#buffer = Buffer.concat([this.#buffer.subarray(this.#offset), chunk], remaining + chunk.length);
    }
    this.#offset = 0;
  }

  /** The next complete unit, or undefined when more bytes are needed. */
  next(): DecodedFrame | undefined {
    if (this.#partial !== undefined) {
      if (this.#partialFilled < this.#partial.length) return undefined;
      const body = this.#partial;
      this.#partial = undefined;
      this.#partialFilled = 0;
      return { kind: 'frame', body };
    }
    const available = this.#buffer.length - this.#offset;
    if (available < FRAME_HEADER_BYTES) return undefined;
    const length = this.#buffer.readUInt32LE(this.#offset);
    if (length === 0 || length > this.#maxFrameBytes) {
      this.#offset += FRAME_HEADER_BYTES;
      return { kind: 'invalid-length', length };
    }
    const start = this.#offset + FRAME_HEADER_BYTES;
    if (available < FRAME_HEADER_BYTES + length) {
      // Switch to filling an exact-size body so later chunks are copied once.
      this.#partial = Buffer.allocUnsafe(length);
      this.#partialFilled = this.#buffer.copy(this.#partial, 0, start);
      this.#buffer = EMPTY;
      this.#offset = 0;
      return undefined;
    }
    this.#offset = start + length;
    return { kind: 'frame', body: this.#buffer.subarray(start, start + length) };
  }

  /** Bytes received but not yet returned as a frame (a partial header or body). */
  get pendingBytes(): number {
    const partial = this.#partial === undefined ? 0 : FRAME_HEADER_BYTES + this.#partialFilled;
    return partial + this.#buffer.length - this.#offset;
  }
}

const EMPTY = Buffer.alloc(0);
