import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { trimEndLength } from '../../src/broker/trim.js';
import { TRAILING_WHITESPACE } from '../../src/protocol/validate.js';

const WHITESPACE = ['\t', '\n', '\v', '\f', '\r', ' ', '\u0085', '\u00a0', '\u1680', '\u2000', '\u2005', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000'];
const NOT_WHITESPACE = ['\ufeff', '\u200b', '\u180e', 'a', 'é', '€', '😀', '\u0000', '\u001f', '\u0084', '\u00a1', '\u2030', '\u3001'];

test('byte-level trim_end removes exactly Rust\'s Unicode White_Space', () => {
  const char = fc.oneof(fc.constantFrom(...WHITESPACE, ...NOT_WHITESPACE), fc.string({ unit: 'grapheme', maxLength: 1 }));
  fc.assert(
    fc.property(fc.array(char, { maxLength: 12 }), (chars) => {
      const text = chars.join('');
      const bytes = Buffer.from(text, 'utf8');
      const expected = Buffer.byteLength(text.replace(TRAILING_WHITESPACE, ''), 'utf8');
      assert.equal(trimEndLength(bytes), expected, JSON.stringify(text));
    }),
    { numRuns: 3000 },
  );
});

test('every White_Space character alone trims to nothing; look-alikes survive', () => {
  for (const ws of WHITESPACE) assert.equal(trimEndLength(Buffer.from(`x${ws}`)), 1, `U+${ws.codePointAt(0)!.toString(16)}`);
  for (const c of NOT_WHITESPACE) assert.equal(trimEndLength(Buffer.from(c)), Buffer.byteLength(c), `U+${c.codePointAt(0)!.toString(16)}`);
});
