import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FrameReader } from '../../src/broker/frame-reader.js';
import { FrameDecoder, type DecodedFrame } from '../../src/protocol/frame.js';

function drain(reader: { next(): DecodedFrame | undefined }): string[] {
  const out: string[] = [];
  for (let unit = reader.next(); unit; unit = reader.next()) {
    out.push(unit.kind === 'frame' ? `F${unit.body.toString('hex')}` : `I${unit.length}`);
  }
  return out;
}

test('FrameReader yields what FrameDecoder yields for any split of any byte stream', () => {
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
      const reader = new FrameReader();
      const decoder = new FrameDecoder();
      const a: string[] = [];
      const b: string[] = [];
      let at = 0;
      let i = 0;
      while (at < stream.length) {
        const chunk = stream.subarray(at, at + cuts[i++ % cuts.length]!);
        at += chunk.length;
        reader.push(chunk);
        decoder.push(chunk);
        a.push(...drain(reader));
        b.push(...drain(decoder));
      }
      assert.deepEqual(a, b);
      assert.equal(reader.pendingBytes, decoder.pendingBytes);
    }),
    { numRuns: 500 },
  );
});

test('a 64 KiB frame dripped one byte at a time is decoded in linear time', () => {
  const body = Buffer.alloc(65_536, 0x61);
  const h = Buffer.alloc(4);
  h.writeUInt32LE(body.length, 0);
  const stream = Buffer.concat([h, body]);
  const reader = new FrameReader();
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
