/**
 * Byte-level mirror of Rust's `str::trim_end`, which the stock node applies to
 * every command before splitting it. Working on bytes (the body is already
 * known to be valid UTF-8) avoids decoding every PUT payload to a string.
 *
 * Unicode White_Space and its UTF-8 encodings:
 * - U+0009..U+000D, U+0020: one byte
 * - U+0085 (C2 85), U+00A0 (C2 A0)
 * - U+1680 (E1 9A 80)
 * - U+2000..U+200A (E2 80 80..8A), U+2028 (E2 80 A8), U+2029 (E2 80 A9),
 *   U+202F (E2 80 AF), U+205F (E2 81 9F)
 * - U+3000 (E3 80 80)
 */
export function trimEndLength(body: Uint8Array, length: number = body.length): number {
  let end = length;
  while (end > 0) {
    const last = body[end - 1]!;
    if (last === 0x20 || (last >= 0x09 && last <= 0x0d)) {
      end -= 1;
      continue;
    }
    if (end >= 2 && body[end - 2] === 0xc2 && (last === 0x85 || last === 0xa0)) {
      end -= 2;
      continue;
    }
    if (end >= 3 && isThreeByteSpace(body[end - 3]!, body[end - 2]!, last)) {
      end -= 3;
      continue;
    }
    break;
  }
  return end;
}

function isThreeByteSpace(a: number, b: number, c: number): boolean {
  if (a === 0xe2 && b === 0x80) return (c >= 0x80 && c <= 0x8a) || c === 0xa8 || c === 0xa9 || c === 0xaf;
  if (a === 0xe2 && b === 0x81) return c === 0x9f;
  if (a === 0xe1) return b === 0x9a && c === 0x80;
  if (a === 0xe3) return b === 0x80 && c === 0x80;
  return false;
}
