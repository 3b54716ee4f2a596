import { WalrusError } from '../errors/index.js';

/**
 * Parses the `<count> <len> <entry> <len> <entry> ...` list shared by
 * BATCH_PUT requests and BATCH_GET replies. `body` is the frame body and
 * `start` the index of the count's first digit. Entry bytes are returned as
 * zero-copy views. Throws PROTOCOL_ERROR (with the byte position) on any
 * inconsistency, so a corrupt frame is never half-applied.
 */
export function parseLengthPrefixedList(body: Buffer, start: number, maxEntries: number): Buffer[] {
  let at = start;
  const count = readDecimal(body, at, 'count');
  at = count.end;
  if (count.value < 1 || count.value > maxEntries) {
    throw protocolError(`batch count ${count.value} is outside 1..${maxEntries}`, at);
  }
  const entries = new Array<Buffer>(count.value);
  for (let i = 0; i < count.value; i++) {
    if (body[at] !== 0x20) throw protocolError(`expected a space before the length of entry ${i}`, at);
    const len = readDecimal(body, at + 1, `length of entry ${i}`);
    at = len.end;
    if (body[at] !== 0x20) throw protocolError(`expected a space after the length of entry ${i}`, at);
    const begin = at + 1;
    const end = begin + len.value;
    if (len.value < 1 || end > body.length) throw protocolError(`entry ${i} of ${len.value} bytes does not fit the frame`, begin);
    entries[i] = body.subarray(begin, end);
    at = end;
  }
  if (at !== body.length) throw protocolError(`${body.length - at} unexpected bytes after the last entry`, at);
  return entries;
}

/** Reads an unsigned decimal (no sign, no leading zeros beyond "0", at most 9 digits). */
export function readDecimal(body: Buffer, start: number, what: string): { value: number; end: number } {
  let at = start;
  let value = 0;
  while (at < body.length && at - start < 10) {
    const c = body[at]!;
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + (c - 0x30);
    at++;
  }
  const digits = at - start;
  if (digits === 0 || digits > 9 || (digits > 1 && body[start] === 0x30)) {
    throw protocolError(`invalid ${what}`, start);
  }
  return { value, end: at };
}

function protocolError(problem: string, at: number): WalrusError {
  return new WalrusError('PROTOCOL_ERROR', `Malformed batch: ${problem} (byte ${at}).`, { context: { position: at } });
}
