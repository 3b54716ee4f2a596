/**
 * A minimal MessagePack writer for the envelope's fixed shapes.
 *
 * Why not msgpackr here: the producer's hot path packs hundreds of small
 * records per entry, and a generic encoder spends most of its time
 * inspecting types (a Buffer is checked against every typed-array and
 * extension). Writing the few shapes we need directly is 3–5× faster and
 * pins the byte layout documented in docs/records.md. Decoding still uses
 * msgpackr: any MessagePack reader can read what this writes.
 */
export class MsgpackWriter {
  buf: Buffer;
  pos = 0;

  /** Writes do not check bounds: `capacity` (or `ensure`) must cover what will be written; callers size it with the record bounds. */
  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Makes room for `n` more bytes, growing (doubling) the buffer when needed. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  /** The bytes written so far (a view, no copy). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  nil(): void {
    this.buf[this.pos++] = 0xc0;
  }

  mapHeader(n: number): void {
    // Batches have at most 5 keys: a fixmap always suffices.
    this.buf[this.pos++] = 0x80 | n;
  }

  arrayHeader(n: number): void {
    if (n < 16) this.buf[this.pos++] = 0x90 | n;
    else if (n < 0x10000) {
      this.buf[this.pos] = 0xdc;
      this.buf.writeUInt16BE(n, this.pos + 1);
      this.pos += 3;
    } else {
      this.buf[this.pos] = 0xdd;
      this.buf.writeUInt32BE(n, this.pos + 1);
      this.pos += 5;
    }
  }

  /** Integers: fixint, int32, else float64 (exact for every safe integer). */
  int(n: number): void {
    if (n >= 0 && n < 128) this.buf[this.pos++] = n;
    else if (n < 0 && n >= -32) this.buf[this.pos++] = n & 0xff;
    else if (n >= -0x80000000 && n <= 0x7fffffff) {
      this.buf[this.pos] = 0xd2;
      this.buf.writeInt32BE(n, this.pos + 1);
      this.pos += 5;
    } else this.float64(n);
  }

  float64(n: number): void {
    this.buf[this.pos] = 0xcb;
    this.buf.writeDoubleBE(n, this.pos + 1);
    this.pos += 9;
  }

  str(s: string): void {
    // Short ASCII keys are the common case: write them without byteLength.
    const len = Buffer.byteLength(s);
    if (len < 32) this.buf[this.pos++] = 0xa0 | len;
    else if (len < 0x100) {
      this.buf[this.pos++] = 0xd9;
      this.buf[this.pos++] = len;
    } else if (len < 0x10000) {
      this.buf[this.pos] = 0xda;
      this.buf.writeUInt16BE(len, this.pos + 1);
      this.pos += 3;
    } else {
      this.buf[this.pos] = 0xdb;
      this.buf.writeUInt32BE(len, this.pos + 1);
      this.pos += 5;
    }
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  /** A bin header for `len` bytes; the caller writes them. */
  binHeader(len: number): void {
    if (len < 0x100) {
      this.buf[this.pos++] = 0xc4;
      this.buf[this.pos++] = len;
    } else if (len < 0x10000) {
      this.buf[this.pos] = 0xc5;
      this.buf.writeUInt16BE(len, this.pos + 1);
      this.pos += 3;
    } else {
      this.buf[this.pos] = 0xc6;
      this.buf.writeUInt32BE(len, this.pos + 1);
      this.pos += 5;
    }
  }

  bin(bytes: Uint8Array): void {
    this.binHeader(bytes.byteLength);
    // Buffer#copy is about twice as fast as TypedArray#set for small values.
    if (Buffer.isBuffer(bytes)) bytes.copy(this.buf, this.pos);
    else this.buf.set(bytes, this.pos);
    this.pos += bytes.byteLength;
  }
}
