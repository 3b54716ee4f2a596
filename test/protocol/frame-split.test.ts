import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FrameDecoder, type DecodedFrame } from '../../src/protocol/frame.js';
import { MAX_FRAME_BYTES } from '../../src/protocol/limits.js';

/**
 * The reference: decode a whole byte stream at once, the plainest way (what
 * DESIGN §2 says the node does: length 0 or > 65,536 is reported and only
 * its header consumed).
 */
function decodeWhole(stream: Buffer): { units: string[]; pending: number } {
  const units: string[] = [];
  let at = 0;
  for (;;) {
    if (stream.length - at < 4) break;
    const length = stream.readUInt32LE(at);
    if (length === 0 || length > MAX_FRAME_BYTES) {
      units.push(`I${length}`);
      at += 4;
      continue;
    }
    if (stream.length - at - 4 < length) break;
    units.push(`F${stream.subarray(at + 4, at + 4 + length).toString('hex')}`);
    at += 4 + length;
  }
  return { units, pending: stream.length - at };
}

function drain(reader: { next(): DecodedFrame | undefined }): string[] {
  const out: string[] = [];
  for (let unit = reader.next(); unit; unit = reader.next()) {
    out.push(unit.kind === 'frame' ? `F${unit.body.toString('hex')}` : `I${unit.length}`);
  }
  return out;
}

test('FrameDecoder yields what decoding the whole stream at once yields, for any split of any byte stream', () => {
  const frame = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((body) => {
      const h = Buffer.alloc(4);
      h.writeUInt32LE(body.length, 0);
      return Buffer.concat([h, body]);
    }),
    fc.constantFrom(Buffer.from([0, 0, 0, 0]), Buffer.from([1, 0, 1, 0]), Buffer.from([0xff, 0xff, 0xff, 0xff])),
    fc.uint8Array({ minLength: 1, maxLength: 7 }).map((b) => Buffer.from(b)),
  );
  fc.assert(
    fc.property(fc.array(frame, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 30 }), (frames, cuts) => {
      const stream = Buffer.concat(frames);
      const reader = new FrameDecoder();
      const a: string[] = [];
      let at = 0;
      let i = 0;
      while (at < stream.length) {
        const chunk = stream.subarray(at, at + cuts[i++ % cuts.length]!);
        at += chunk.length;
        reader.push(chunk);
        a.push(...drain(reader));
      }
      const whole = decodeWhole(stream);
      assert.deepEqual(a, whole.units);
      assert.equal(reader.pendingBytes, whole.pending);
    }),
    { numRuns: 500 },
  );
});

test('a 64 KiB frame dripped one byte at a time is decoded in linear time', () => {
  const body = Buffer.alloc(65_536, 0x61);
  const h = Buffer.alloc(4);
  h.writeUInt32LE(body.length, 0);
  const stream = Buffer.concat([h, body]);
  const reader = new FrameDecoder();
  const started = process.hrtime.bigint();
  let result: DecodedFrame | undefined;
  for (let i = 0; i < stream.length; i++) {
    reader.push(stream.subarray(i, i + 1));
    result = reader.next() ?? result;
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(result?.kind, 'frame');
  assert.equal(result?.kind === 'frame' ? result.body.length : 0, 65_536);
  // Quadratic re-copying would move ~2 GiB here (seconds); linear is a few ms.
  assert.ok(ms < 500, `${ms.toFixed(1)} ms`);
});
