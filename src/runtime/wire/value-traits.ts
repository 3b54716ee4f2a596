import { addExtension } from 'msgpackr';
import { MAX_ENCODED_VALUE_BYTES, assertArrayFits, assertNoLongArray } from '../../codec/array-bound.js';

/**
 * What a record value holds that the plain packing of batch-codec.ts would
 * not bring back as it was: a Map (read back as an object unless the value
 * is written with msgpackr records), or an own `__proto__` key (msgpackr
 * reads such a key back as `__proto_`, its guard against prototype
 * pollution). One walk finds both.
 */
export const HOLDS_MAP = 1;
export const HOLDS_PROTO_KEY = 2;

/**
 * Deeper than this, the walk stops and answers HOLDS_MAP for the whole value
 * (packing then refuses a cycle). It stops at once, not just that branch: a
 * value that refers to itself twice (`o.a = o; o.b = o`) had the walk try
 * every path to that depth, 2^64 of them, and hung its thread.
 */
const SEARCH_DEPTH = 64;
const TOO_DEEP = new Error('deep value');

/**
 * HOLDS_MAP and/or HOLDS_PROTO_KEY for `value` (own properties, elements, Set
 * members, Map values); throws ArrayTooLong for an array longer than any
 * record value can be (a sparse one would be packed hole by hole), at any
 * depth.
 */
export function valueTraits(value: unknown, depth = 0): number {
  try {
    return traitsOf(value, depth);
  } catch (error) {
    if (error !== TOO_DEEP) throw error;
  }
  // Rare: the array check alone, each object once, however deep or cyclic.
  assertNoLongArray(value, MAX_ENCODED_VALUE_BYTES);
  return HOLDS_MAP;
}

function traitsOf(value: unknown, depth: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (depth > SEARCH_DEPTH) throw TOO_DEEP;
  if (ArrayBuffer.isView(value) || value instanceof Date) return 0;
  let traits = value instanceof Map ? HOLDS_MAP : 0;
  if (Array.isArray(value)) {
    assertArrayFits(value, MAX_ENCODED_VALUE_BYTES);
    for (let i = 0; i < value.length && traits !== 3; i++) traits |= traitsOf(value[i], depth + 1);
  } else if (value instanceof Set || value instanceof Map) {
    for (const item of value.values()) { traits |= traitsOf(item, depth + 1); if (traits === 3) break; }
  } else {
    for (const key in value) {
      if (key === '__proto__') traits |= HOLDS_PROTO_KEY;
      traits |= traitsOf((value as Record<string, unknown>)[key], depth + 1);
      if (traits === 3) break;
    }
  }
  return traits;
}

/** A plain object with an own `__proto__` key, on its way across threads: its keys and values, flat. */
class ProtoKeyed {
  constructor(readonly flat: unknown[]) {}
}

/** msgpackr extension type of {@link ProtoKeyed} (unused by msgpackr itself). */
const PROTO_KEYED = 0x50;

addExtension({
  Class: ProtoKeyed,
  type: PROTO_KEYED,
  write: (keyed: ProtoKeyed) => keyed.flat,
  read: (flat: unknown[]) => {
    const object: Record<string, unknown> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) {
      // An own data property, as JSON.parse makes it: `object.__proto__ = v` would set the prototype instead.
      Object.defineProperty(object, flat[i] as string, { value: flat[i + 1], enumerable: true, writable: true, configurable: true });
    }
    return object;
  },
});

const isPlain = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

/**
 * A copy of `value` in which every plain object with an own `__proto__` key
 * is a {@link ProtoKeyed}, so it comes back with that key (what `packValue`
 * packs when {@link valueTraits} found one). Arrays, plain objects, Maps and
 * Sets are copied as far as they lead to such a key; anything else is kept.
 */
export function protoKeysKept(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > SEARCH_DEPTH || (valueTraits(value, depth) & HOLDS_PROTO_KEY) === 0) return value;
  if (Array.isArray(value)) return value.map((item) => protoKeysKept(item, depth + 1));
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, protoKeysKept(v, depth + 1)]));
  if (value instanceof Set) return new Set([...value].map((item) => protoKeysKept(item, depth + 1)));
  if (!isPlain(value)) return value;
  if (!Object.hasOwn(value, '__proto__')) {
    // No such key of its own: a copy whose values keep theirs (a plain assignment is safe, no key is "__proto__").
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(value)) copy[key] = protoKeysKept((value as Record<string, unknown>)[key], depth + 1);
    return copy;
  }
  const flat: unknown[] = [];
  for (const key of Object.keys(value)) flat.push(key, protoKeysKept((value as Record<string, unknown>)[key], depth + 1));
  return new ProtoKeyed(flat);
}
