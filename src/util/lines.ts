/** Line splitting with a bound on a line's length, shared by `produce` and `run --seed`. */

/** A line longer than the largest record it could become; reported with its number, before the rest of it is read. */
export class LineTooLongError extends Error {
  constructor(readonly line: number, readonly limit: number) {
    super(`line ${line} is longer than ${limit} bytes, more than one record can hold`);
  }
}

/**
 * Splits a byte stream into lines on \n only, so \r and other whitespace
 * stay in the record. A line arriving in many chunks is gathered once
 * (linear time, not a copy per chunk), and one longer than `maxLineBytes`
 * throws {@link LineTooLongError} as soon as it passes the limit, so memory
 * stays bounded by the limit whatever the input.
 */
export async function* lines(input: AsyncIterable<Buffer | string>, maxLineBytes = Number.POSITIVE_INFINITY): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  let lineNo = 1;
  for await (const chunk of input) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let at = buf.indexOf(0x0a);
    while (at !== -1) {
      const piece = buf.subarray(0, at);
      if (size + piece.length > maxLineBytes) throw new LineTooLongError(lineNo, maxLineBytes);
      yield parts.length === 0 ? piece : Buffer.concat([...parts, piece], size + piece.length);
      parts = [];
      size = 0;
      lineNo++;
      buf = buf.subarray(at + 1);
      at = buf.indexOf(0x0a);
    }
    if (buf.length === 0) continue;
    if (size + buf.length > maxLineBytes) throw new LineTooLongError(lineNo, maxLineBytes);
    parts.push(Buffer.from(buf)); // copy: the chunk may be reused
    size += buf.length;
  }
  if (size > 0) yield Buffer.concat(parts, size);
}
