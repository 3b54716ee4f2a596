import { MAX_DECOMPRESSED_BYTES } from './compression.js';

/*
 * Arrays too long for where a value is going, found before a serializer
 * walks them.
 *
 * Why: an array of length N encodes to at least N bytes in every built-in
 * serializer (MessagePack writes a byte an element, JSON at least two
 * characters), and serializers visit every index, holes too. A sparse array
 * (`a.length = 2 ** 32 - 1`) costs nothing to make and held its thread ~84 s
 * inside msgpackr before anything failed: a worker looked hung, its step
 * deadline ended it and the record was retried, hang after hang. So the
 * length alone decides, before a byte is written.
 *
 * Cost: JSON and the thread packing walk every value already (for what they
 * cannot hold): there the length is one more comparison. MessagePack has no
 * walk of its own; `longArrayIn` is one, about 0.1 µs on a 10-field order
 * (msgpackr packs it in ~1 µs): msgpackr has no hook that sees an array
 * before its elements are packed, and packing a plain array never consults
 * the extensions.
 */

/**
 * The most bytes a record value can ever take: what an entry holds before
 * compression, since readers refuse to decompress more (an entry without
 * compression holds far less: `maxPayloadBytes(topic)`).
 */
export const MAX_ENCODED_VALUE_BYTES = MAX_DECOMPRESSED_BYTES;

/** The bound for a value written to an entry of `limit` bytes, compressed or not. */
export function valueBoundFor(limit: number, compressed: boolean): number {
  return compressed ? MAX_ENCODED_VALUE_BYTES : limit;
}

/** Thrown (and turned into MESSAGE_TOO_LARGE or SERIALIZATION_ERROR by whoever serializes) for an array longer than the bytes allowed. */
export class ArrayTooLong extends RangeError {
  constructor(readonly length: number, readonly limit: number) {
    super(`it holds an array of length ${length}, which encodes to at least ${length} bytes, over the max entry size of ${limit} bytes${
      length > 2 * limit ? ' (a sparse array? its holes are written one by one)' : ''}; send it in pieces, or its set indexes as an object`);
    this.name = 'ArrayTooLong';
  }
}

/** Throws {@link ArrayTooLong} when `array` is longer than `maxBytes`. */
export function assertArrayFits(array: readonly unknown[], maxBytes: number): void {
  if (array.length > maxBytes) throw new ArrayTooLong(array.length, maxBytes);
}

/** Deeper than this the recursive walk starts again keeping what it saw, so a cycle or a chain of shared objects ends. */
const FAST_DEPTH = 64;
const TOO_DEEP = new Error('deep value');

/**
 * Throws {@link ArrayTooLong} for the first array in `value` (own enumerable
 * properties of objects, array elements, Map keys and values, Set members)
 * longer than `maxBytes`. What MessagePack writes: a typed array or a Buffer
 * is bytes that exist already and is not walked.
 */
export function assertNoLongArray(value: unknown, maxBytes: number): void {
  if (typeof value !== 'object' || value === null) return;
  try {
    walk(value, maxBytes, 0);
  } catch (error) {
    if (error !== TOO_DEEP) throw error;
    walkKeepingSeen(value, maxBytes);
  }
}

function walk(value: object, maxBytes: number, depth: number): void {
  if (depth > FAST_DEPTH) throw TOO_DEEP;
  if (Array.isArray(value)) {
    const n = value.length;
    if (n > maxBytes) throw new ArrayTooLong(n, maxBytes);
    for (let i = 0; i < n; i++) {
      const item: unknown = value[i];
      if (typeof item === 'object' && item !== null) walk(item, maxBytes, depth + 1);
    }
    return;
  }
  if (value.constructor !== Object) {
    const children = childrenOf(value);
    if (children !== undefined) {
      for (const item of children) if (typeof item === 'object' && item !== null) walk(item, maxBytes, depth + 1);
      return;
    }
  }
  for (const key in value) {
    const item: unknown = (value as Record<string, unknown>)[key];
    if (typeof item === 'object' && item !== null) walk(item, maxBytes, depth + 1);
  }
}

/** The same walk without recursion, each object once: linear in the objects however they nest or refer to each other. */
function walkKeepingSeen(root: object, maxBytes: number): void {
  const seen = new Set<object>();
  const stack: object[] = [root];
  const push = (item: unknown): void => {
    if (typeof item === 'object' && item !== null && !seen.has(item)) stack.push(item);
  };
  while (stack.length > 0) {
    const value = stack.pop()!;
    if (seen.has(value)) continue;
    seen.add(value);
    if (Array.isArray(value)) {
      assertArrayFits(value, maxBytes);
      for (let i = 0; i < value.length; i++) push(value[i]);
      continue;
    }
    const children = value.constructor === Object ? undefined : childrenOf(value);
    if (children !== undefined) for (const item of children) push(item);
    else for (const key in value) push((value as Record<string, unknown>)[key]);
  }
}

/** What a non-plain object is packed as, when not its enumerable properties: nothing (bytes), Map keys and values, Set members. */
function childrenOf(value: object): Iterable<unknown> | undefined {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return [];
  if (value instanceof Map) return [...value.keys(), ...value.values()];
  if (value instanceof Set) return value.values();
  return undefined;
}
