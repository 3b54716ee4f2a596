import { inspect } from 'node:util';

/*
 * How `walrus-stream store` (src/cli/commands/store.ts) and the dashboard's store browser show a stored
 * value (docs/state.md, "Reading a store"). A store holds more than JSON can
 * say (docs/state.md, "What values a store holds"): JSON.stringify threw on a
 * BigInt ("Do not know how to serialize a BigInt"), printed a Map or Set as
 * {}, NaN and ±Infinity as null, -0 as 0, dropped undefined members, and a
 * Buffer as {"type":"Buffer","data":[...]} (one number per byte).
 *
 * JSON output: plain JSON stays as it was; anything else is a one-key object
 * tagged with `$` (the tagged form), which a reader turns back into the value:
 *   {"$bigint": "123"}   {"$number": "NaN" | "-0" | "Infinity" | "-Infinity"}
 *   {"$undefined": true} {"$date": "2024-01-01T00:00:00.000Z"} (an invalid Date: "Invalid Date")
 *   {"$map": [[k, v], ...]}   {"$set": [v, ...]}
 *   {"$bytes": "<base64>", "type": "Buffer" | "Uint8Array" | "Float64Array" | "ArrayBuffer" | "DataView" | ..., "length": <bytes>}
 *   {"$object": {...}}  a plain object with a key starting with "$" (so it is never read as a tag)
 * Bytes past MAX_SHOWN_BYTES and BigInts past MAX_SHOWN_DIGITS are cut, with
 * "truncated": true and their full size ("length" in bytes, "digits").
 *
 * Text output: util.inspect on one line (Map(1) { 'a' => 1 }, 12n, -0,
 * <Buffer 01 02 ...>), strings and long lists cut past a bound, control
 * characters escaped (a stored string cannot move the terminal's cursor).
 */

/** Bytes of a Buffer, typed array, ArrayBuffer or DataView shown; the rest is counted, not shown. */
export const MAX_SHOWN_BYTES = 4096;
/** Decimal digits of a BigInt shown; the rest is counted, not shown. */
export const MAX_SHOWN_DIGITS = 4096;

/** `value` as JSON-safe data: plain JSON as it is, anything JSON cannot hold in the tagged form. */
export function taggedJson(value: unknown): unknown {
  switch (typeof value) {
    case 'string': case 'boolean': return value;
    case 'number':
      if (Number.isNaN(value) || !Number.isFinite(value)) return { $number: String(value) };
      return Object.is(value, -0) ? { $number: '-0' } : value;
    case 'bigint': return bigintTag(value);
    case 'undefined': return { $undefined: true };
    case 'object': break;
    default: return { $unknown: typeof value }; // a function or symbol: never stored (docs/state.md), shown rather than thrown on
  }
  if (value === null) return null;
  if (Array.isArray(value)) return value.map(taggedJson);
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [taggedJson(k), taggedJson(v)]) };
  if (value instanceof Set) return { $set: [...value].map(taggedJson) };
  if (value instanceof Date) return { $date: Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString() };
  const bytes = bytesOf(value);
  if (bytes !== undefined) {
    const shown = bytes.subarray(0, MAX_SHOWN_BYTES);
    return {
      $bytes: Buffer.from(shown.buffer, shown.byteOffset, shown.byteLength).toString('base64'),
      type: typeName(value), length: bytes.byteLength,
      ...(bytes.byteLength > MAX_SHOWN_BYTES ? { truncated: true } : {}),
    };
  }
  const out: Record<string, unknown> = {};
  let dollar = false;
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('$')) dollar = true;
    out[k] = taggedJson(v);
  }
  return dollar ? { $object: out } : out;
}

/** `value` as one line of text for a terminal. */
export function valueText(value: unknown): string {
  return inspect(bounded(value, 0), { depth: Infinity, breakLength: Infinity, compact: true, maxArrayLength: 1000, maxStringLength: 4096 });
}

/** A key for a line of text: as it is, or JSON-quoted when it holds a control character or a tab (it would break the line or drive the terminal). */
export function keyText(key: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f]/.test(key) ? JSON.stringify(key) : key;
}

function bigintTag(value: bigint): { $bigint: string; digits?: number; truncated?: true } {
  const text = value.toString();
  const digits = value < 0n ? text.length - 1 : text.length;
  if (digits <= MAX_SHOWN_DIGITS) return { $bigint: text };
  return { $bigint: text.slice(0, MAX_SHOWN_DIGITS + (value < 0n ? 1 : 0)), digits, truncated: true };
}

function bytesOf(value: object): Uint8Array | undefined {
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return new Uint8Array(value);
  return undefined;
}

function typeName(value: object): string {
  return Buffer.isBuffer(value) ? 'Buffer' : (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'bytes';
}

/** For inspect: a BigInt past MAX_SHOWN_DIGITS replaced by a cut form (inspect prints every digit); everything else as it is. */
function bounded(value: unknown, depth: number): unknown {
  if (typeof value === 'bigint') {
    const tag = bigintTag(value);
    return tag.truncated ? { [inspect.custom]: () => `${tag.$bigint}…n (${tag.digits} digits)` } : value;
  }
  if (typeof value !== 'object' || value === null || depth > 100 || !holdsHugeBigint(value, depth)) return value;
  if (Array.isArray(value)) return value.map((v) => bounded(v, depth + 1));
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [bounded(k, depth + 1), bounded(v, depth + 1)]));
  if (value instanceof Set) return new Set([...value].map((v) => bounded(v, depth + 1)));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bounded(v, depth + 1)]));
}

function holdsHugeBigint(value: unknown, depth: number): boolean {
  if (typeof value === 'bigint') return bigintTag(value).truncated === true;
  if (typeof value !== 'object' || value === null || depth > 100 || ArrayBuffer.isView(value) || value instanceof Date) return false;
  const members: Iterable<unknown> = value instanceof Map ? [...value.keys(), ...value.values()] : value instanceof Set ? value : Object.values(value);
  for (const m of members) if (holdsHugeBigint(m, depth + 1)) return true;
  return false;
}
