import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder, encodeFrame, MAX_FRAME_BYTES, type DecodedFrame } from '../../src/protocol/index.js';
import { WalrusError } from '../../src/errors/index.js';

function drain(decoder: FrameDecoder): DecodedFrame[] {
  const out: DecodedFrame[] = [];
  for (let f = decoder.next(); f; f = decoder.next()) out.push(f);
  return out;
}

test('encodeFrame writes a u32 little-endian length then the UTF-8 body', () => {
  const frame = encodeFrame('PUT t é');
  assert.equal(frame.readUInt32LE(0), 8);
  assert.equal(frame.subarray(4).toString('utf8'), 'PUT t é');
  assert.deepEqual(encodeFrame(Buffer.from([1, 2, 3])), Buffer.from([3, 0, 0, 0, 1, 2, 3]));
});

test('encodeFrame accepts exactly 65,536 bytes and refuses 0 and 65,537 with typed errors', () => {
  assert.equal(encodeFrame('x'.repeat(MAX_FRAME_BYTES)).length, MAX_FRAME_BYTES + 4);
  assert.throws(() => encodeFrame(''), (e: unknown) => e instanceof WalrusError && e.code === 'INVALID_FRAME');
  assert.throws(
    () => encodeFrame('x'.repeat(MAX_FRAME_BYTES + 1)),
    (e: unknown) => e instanceof WalrusError && e.code === 'FRAME_TOO_LARGE' && e.context.size === 65_537 && e.context.limit === 65_536 && /65537.*65536/.test(e.message),
  );
});

test('decoder yields the same frames for any split of the byte stream (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
      (bodies, cuts) => {
        const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
        const decoder = new FrameDecoder();
        const got: Buffer[] = [];
        let at = 0;
        let i = 0;
        while (at < stream.length) {
          const size = cuts[i++ % cuts.length]!;
          decoder.push(stream.subarray(at, at + size));
          at += size;
          for (const f of drain(decoder)) {
            assert.equal(f.kind, 'frame');
            if (f.kind === 'frame') got.push(Buffer.from(f.body));
          }
        }
        assert.deepEqual(got, bodies.map((b) => Buffer.from(b)));
        assert.equal(decoder.pendingBytes, 0);
      },
    ),
    { numRuns: 200 },
  );
});

test('many frames in one chunk are all decoded, zero-copy', () => {
  const chunk = Buffer.concat([encodeFrame('a'), encodeFrame('bb'), encodeFrame('ccc')]);
  const decoder = new FrameDecoder();
  decoder.push(chunk);
  const frames = drain(decoder);
  assert.deepEqual(frames.map((f) => (f.kind === 'frame' ? f.body.toString() : '?')), ['a', 'bb', 'ccc']);
  const first = frames[0]!;
  assert.ok(first.kind === 'frame' && first.body.buffer === chunk.buffer, 'body should be a view into the chunk');
});

test('a length of 0 is reported and the stream stays in sync', () => {
  const decoder = new FrameDecoder();
  decoder.push(Buffer.concat([Buffer.from([0, 0, 0, 0]), encodeFrame('GET t')]));
  const frames = drain(decoder);
  assert.deepEqual(frames[0], { kind: 'invalid-length', length: 0 });
  assert.equal(frames[1]!.kind === 'frame' && frames[1]!.body.toString(), 'GET t');
});

test('an oversize length is reported from the header alone, before any body is buffered', () => {
  const decoder = new FrameDecoder();
  const header = Buffer.alloc(4);
  header.writeUInt32LE(0xffff_ffff, 0);
  decoder.push(header);
  assert.deepEqual(decoder.next(), { kind: 'invalid-length', length: 0xffff_ffff });
  assert.equal(decoder.pendingBytes, 0);
  header.writeUInt32LE(MAX_FRAME_BYTES + 1, 0);
  decoder.push(header);
  assert.deepEqual(decoder.next(), { kind: 'invalid-length', length: MAX_FRAME_BYTES + 1 });
});

test('a partial header or body waits for more bytes', () => {
  const decoder = new FrameDecoder();
  const frame = encodeFrame('hello');
  decoder.push(frame.subarray(0, 2));
  assert.equal(decoder.next(), undefined);
  decoder.push(frame.subarray(2, 6));
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.pendingBytes, 6);
  decoder.push(frame.subarray(6));
  const f = decoder.next();
  assert.ok(f?.kind === 'frame' && f.body.toString() === 'hello');
});

test('a frame dripped byte by byte, followed by more frames in the last chunk, decodes exactly', () => {
  const big = Buffer.alloc(65_536, 7);
  big[0] = 1;
  big[65_535] = 9;
  const stream = Buffer.concat([encodeFrame(big), encodeFrame('tail-1'), encodeFrame('tail-2')]);
  const decoder = new FrameDecoder();
  const got: Buffer[] = [];
  const dripEnd = 4 + 65_536 - 1;
  for (let i = 0; i < dripEnd; i++) {
    decoder.push(stream.subarray(i, i + 1));
    for (const f of drain(decoder)) if (f.kind === 'frame') got.push(Buffer.from(f.body));
  }
  assert.equal(got.length, 0);
  assert.equal(decoder.pendingBytes, dripEnd);
  decoder.push(stream.subarray(dripEnd));
  for (const f of drain(decoder)) if (f.kind === 'frame') got.push(Buffer.from(f.body));
  assert.equal(got.length, 3);
  assert.ok(got[0]!.equals(big));
  assert.deepEqual(got.slice(1).map(String), ['tail-1', 'tail-2']);
  assert.equal(decoder.pendingBytes, 0);
});

test('pushing several chunks before draining loses nothing, in or out of a partial body', () => {
  const stream = Buffer.concat([encodeFrame('x'.repeat(100)), encodeFrame('y'), encodeFrame('z'.repeat(50))]);
  const decoder = new FrameDecoder();
  decoder.push(stream.subarray(0, 50));
  assert.equal(decoder.next(), undefined); // enters partial mode
  decoder.push(stream.subarray(50, 104)); // completes the body exactly
  decoder.push(stream.subarray(104, 120)); // next pushes before draining
  decoder.push(stream.subarray(120));
  const bodies = drain(decoder).map((f) => (f.kind === 'frame' ? f.body.toString() : '!'));
  assert.deepEqual(bodies, ['x'.repeat(100), 'y', 'z'.repeat(50)]);
});
