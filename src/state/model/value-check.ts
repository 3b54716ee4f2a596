/*
 * What a state value holds, found before msgpackr walks it (codec.ts
 * `encodeValue`): plain data that plain msgpack brings back as it is (the
 * common case, packed as always), data that needs the typed encoding to come
 * back as it is (a Map, a Set, -0, a typed array, a BigInt past 64 bits), or
 * something that would not come back as it was, refused with where it is.
 *
 * Why: a demanding user expects no silent change (like Kafka Streams' serdes).
 * Plain msgpack read a Map back as an object (one with an object key failed to
 * encode), a Set as an array, -0 as 0 and a Uint8Array as a Buffer; it wrote a
 * function as `undefined` (`{ f() {} }` came back `{ f: undefined }`), a class
 * instance as a plain object, an array hole as undefined, a RegExp as
 * `['a', 'g']`, an own `__proto__` key as `__proto_`, and a lone surrogate as
 * U+FFFD. It packs an array hole by hole: a sparse array (`a.length = 2 ** 32
 * - 1`) held the worker's thread until the step deadline ended it (35 s). A
 * cycle ended in "Maximum call stack size exceeded".
 *
 * The walk is bounded by the limit itself: every array element and every
 * property takes at least one byte encoded, so after MAX_VALUE_BYTES of
 * them the value is too large whatever they are, and the walk stops there.
 */

/** Deeper than this is refused: a value that refers to itself, or one nested past what anyone stores. */
export const MAX_VALUE_DEPTH = 64;

/** {@link checkValue}: plain msgpack brings the value back as it is. */
export const PLAIN = 0;
/** {@link checkValue}: the value comes back as it is with the typed encoding only (codec.ts). */
export const TYPED = 1;

interface Walk { budget: number; readonly max: number }

const INT64_MIN = -(2n ** 63n);
const UINT64_END = 2n ** 64n;
const OBJECT = Object.prototype;
const ARRAY = Array.prototype;
const DATE = Date.prototype;
const BUFFER = Buffer.prototype;
const TYPED_ARRAY = Object.getPrototypeOf(Uint8Array.prototype) as object;

/**
 * PLAIN, TYPED, or why `value` cannot be stored (a sentence naming where in
 * it). Every state write passes here: plain data is walked once without
 * building a path string per member (with one, the bundled example measured
 * ~3% slower); anything else is walked again to say where, or that it only
 * needs the typed encoding.
 */
export function checkValue(value: unknown, maxBytes: number): typeof PLAIN | typeof TYPED | string {
  if (plain(value, 0, { budget: maxBytes, max: maxBytes })) return PLAIN;
  return reasonIn(value, '', 0, { budget: maxBytes, max: maxBytes }) ?? TYPED;
}

/** True when plain msgpack stores `value` as it is; false when it does not, or may not. */
function plain(value: unknown, depth: number, walk: Walk): boolean {
  if (typeof value !== 'object') {
    switch (typeof value) {
      case 'number': return value !== 0 || 1 / value > 0; // -0 is written as the integer 0
      case 'string': return value.isWellFormed();
      case 'bigint': return value >= INT64_MIN && value < UINT64_END; // int64 / uint64, read back as a BigInt
      case 'boolean': case 'undefined': return true;
      default: return false; // a function, a symbol
    }
  }
  if (value === null) return true;
  if (depth >= MAX_VALUE_DEPTH) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === OBJECT) {
    for (const key in value) { // for-in: no array of keys built (an inherited enumerable key only sends it to reasonIn)
      if (--walk.budget < 0 || key === '__proto__' || !key.isWellFormed()) return false;
      if (!plain((value as Record<string, unknown>)[key], depth + 1, walk)) return false;
    }
    return true;
  }
  if (proto === ARRAY) {
    const array = value as unknown[];
    const n = array.length;
    if (n > walk.budget) return false;
    walk.budget -= n;
    for (let i = 0; i < n; i++) {
      const item = array[i];
      if (item === undefined ? !(i in array) : !plain(item, depth + 1, walk)) return false;
    }
    return true;
  }
  return proto === DATE;
}

function reasonIn(value: unknown, path: string, depth: number, walk: Walk): string | undefined {
  const type = typeof value;
  if (type === 'function') return `it holds a function${at(path)}, which msgpack cannot store (it would read back as undefined); store data only`;
  if (type === 'symbol') return `it holds a symbol${at(path)}, which msgpack cannot store; store data only`;
  if (type === 'string' && !(value as string).isWellFormed()) return loneSurrogate('string', path);
  if (type !== 'object' || value === null) return undefined;
  if (depth >= MAX_VALUE_DEPTH) {
    return `it nests deeper than ${MAX_VALUE_DEPTH} levels${at(path)}: it refers to itself (a cycle) or is nested too deep to store; store data without cycles`;
  }
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === ARRAY) return arrayReason(value as unknown[], path, depth, walk);
  if (proto === OBJECT) {
    for (const key of Object.keys(value as object)) {
      const where = `${path}.${key.isWellFormed() ? key : JSON.stringify(key).slice(1, -1)}`;
      if (--walk.budget < 0) return tooManyMembers(path, walk);
      if (key === '__proto__') {
        return `it holds an own "__proto__" key${at(path)}, which msgpack reads back renamed "__proto_" (its guard against prototype pollution); rename the key`;
      }
      if (!key.isWellFormed()) return loneSurrogate('key', where);
      const reason = reasonIn((value as Record<string, unknown>)[key], where, depth + 1, walk);
      if (reason !== undefined) return reason;
    }
    return undefined;
  }
  if (proto === Map.prototype) {
    let i = 0;
    for (const [key, item] of value as Map<unknown, unknown>) {
      if (--walk.budget < 0) return tooManyMembers(path, walk);
      const reason = reasonIn(key, `${path}.keys()[${i}]`, depth + 1, walk)
        ?? reasonIn(item, `${path}.get(${typeof key === 'string' ? JSON.stringify(key) : `keys()[${i}]`})`, depth + 1, walk);
      if (reason !== undefined) return reason;
      i++;
    }
    return undefined;
  }
  if (proto === Set.prototype) {
    let i = 0;
    for (const item of value as Set<unknown>) {
      if (--walk.budget < 0) return tooManyMembers(path, walk);
      const reason = reasonIn(item, `${path}.values()[${i++}]`, depth + 1, walk);
      if (reason !== undefined) return reason;
    }
    return undefined;
  }
  if (proto === DATE || proto === BUFFER || proto === ArrayBuffer.prototype || proto === DataView.prototype
    || (proto !== null && Object.getPrototypeOf(proto) === TYPED_ARRAY)) return undefined;
  return notData(value as object, proto, path);
}

function arrayReason(array: unknown[], path: string, depth: number, walk: Walk): string | undefined {
  const n = array.length;
  if (n > walk.budget) return tooLong(n, walk.budget, path);
  walk.budget -= n;
  for (let i = 0; i < n; i++) {
    if (!(i in array)) {
      return `it holds an array with a hole${at(`${path}[${i}]`)}, which would read back as undefined; fill it (null, or undefined assigned) or store the set indexes as an object`;
    }
    const reason = reasonIn(array[i], `${path}[${i}]`, depth + 1, walk);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** An object that is not data a store keeps: a class instance, a null-prototype object, a built-in such as a RegExp. */
function notData(value: object, proto: object | null, path: string): string {
  if (proto === null) {
    return `it holds an object with a null prototype${at(path)}, which would read back with Object.prototype; copy it into a plain object ({ ...o }) or a Map`;
  }
  const ctor = (proto as { constructor?: unknown }).constructor;
  const name = typeof ctor === 'function' && ctor.name !== '' ? ctor.name : 'anonymous';
  if ((globalThis as Record<string, unknown>)[name] === ctor) {
    return `it holds ${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}${at(path)}, which would not read back as it is; store plain data (objects, arrays, Map, Set, Date, typed arrays: docs/state.md)`;
  }
  const as = value instanceof Array ? 'an Array' : value instanceof Date ? 'a Date' : value instanceof Map ? 'a Map' : value instanceof Set ? 'a Set'
    : ArrayBuffer.isView(value) ? 'a typed array' : 'a plain object';
  return `it holds an instance of class ${name}${at(path)}, which would read back as ${as} without its class (a store keeps data, not prototypes); store its fields and rebuild the instance after get()`;
}

function loneSurrogate(what: 'string' | 'key', path: string): string {
  return `it holds a ${what} with a lone UTF-16 surrogate${at(path)}, which UTF-8 cannot hold (it would read back with U+FFFD in its place); store well-formed text (toWellFormed()) or the bytes`;
}

function tooManyMembers(path: string, walk: Walk): string {
  return `it has more members${at(path)} than the ${walk.max}-byte limit can hold (each takes at least a byte); split it over several keys`;
}

function tooLong(length: number, budget: number, path: string): string {
  return `it holds an array of length ${length}${at(path)}, which encodes to at least ${length} bytes, over what is left of the limit (${budget} bytes)${
    length > 2 * budget ? ' (a sparse array? its holes are written one by one)' : ''}; store its set indexes as an object, or split it over several keys`;
}

const at = (path: string): string => (path === '' ? '' : ` at ${path.length > 80 ? `${path.slice(0, 80)}…` : path}`);
