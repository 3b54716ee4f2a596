import { Packr, addExtension } from 'msgpackr';
import { WalrusError } from '../errors/index.js';
import { ArrayTooLong, MAX_ENCODED_VALUE_BYTES, assertArrayFits, assertNoLongArray } from './array-bound.js';

/**
 * Turns values into bytes and back. Built-ins are looked up by name; a
 * custom serializer is any object with these two methods.
 *
 * @example
 * const upper: Serializer<string> = {
 *   serialize: (s) => Buffer.from(s.toUpperCase()),
 *   deserialize: (b) => Buffer.from(b).toString('utf8'),
 * };
 */
export interface Serializer<T> {
  serialize(value: T): Uint8Array | string;
  deserialize(bytes: Uint8Array): T;
  /** Written as the `content-type` of every record, when set. */
  contentType?: string;
}

/** Names of the built-in serializers. */
export type SerializerName = 'json' | 'msgpack' | 'string' | 'raw';

/** A built-in serializer name or a custom serializer. */
export type SerializerSpec<T> = SerializerName | Serializer<T>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * JSON text in UTF-8. What JSON cannot hold is refused, never lost: a Map or
 * a Set (`JSON.stringify` writes `{}`), a function or a symbol (dropped, or
 * `null` in an array), NaN or ±Infinity (`null`), anywhere in the value; and
 * `undefined` as the value itself. The error names the path.
 */
export const jsonSerializer: Serializer<unknown> = {
  contentType: 'application/json',
  serialize(value) {
    return toJson(value, MAX_ENCODED_VALUE_BYTES);
  },
  deserialize(bytes) {
    return JSON.parse(utf8.decode(bytes)) as unknown;
  },
};

/** JSON text of `value`; throws ArrayTooLong for an array longer than `maxBytes` (see array-bound.ts). */
function toJson(value: unknown, maxBytes: number): string {
  const loss = jsonLossOf(value, maxBytes);
  if (loss !== undefined) throw new TypeError(`value${loss}`);
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`JSON cannot represent a value of type ${typeof value}`);
  return text;
}

/*
 * Where JSON would lose part of a value: undefined (none), or the path to the
 * first such part and why (`.tags is a Map: ...`). A walk of its own, in
 * front of the fast JSON.stringify: it runs per record on the hot path, and a
 * replacer function in JSON.stringify (the other way to see every value)
 * takes V8 off its fast path, several times the walk's cost (docs/records.md).
 * It follows JSON's rules: own enumerable string keys, array elements by
 * index, toJSON() results. Deeper than FAST_DEPTH it starts again keeping the
 * path's objects, so that a cycle ends the walk (JSON.stringify then refuses
 * it, naming it) instead of running round it.
 */
const FAST_DEPTH = 64;
const TOO_DEEP = new Error('deep value');
const CYCLE = new Error('cyclic value');

function jsonLossOf(value: unknown, maxBytes: number): string | undefined {
  try {
    return jsonLoss(value, 0, undefined, maxBytes);
  } catch (error) {
    if (error !== TOO_DEEP) throw error;
  }
  try {
    return jsonLoss(value, 0, [], maxBytes);
  } catch (error) {
    if (error !== CYCLE) throw error;
    return undefined;
  }
}

function jsonLoss(value: unknown, depth: number, path: object[] | undefined, maxBytes: number): string | undefined {
  switch (typeof value) {
    case 'string': case 'boolean': case 'undefined': case 'bigint': return undefined;
    case 'number': return value - value === 0 ? undefined : ` is ${value}: JSON cannot hold it (it would write null); use null, or a string`;
    case 'function': return ' is a function: JSON cannot hold it (it would drop it); leave it out of the value';
    case 'symbol': return ' is a symbol: JSON cannot hold it (it would drop it); use a string';
  }
  if (value === null) return undefined;
  if (path !== undefined) {
    if (path.includes(value as object)) throw CYCLE;
    path.push(value as object);
  } else if (depth > FAST_DEPTH) throw TOO_DEEP;
  const loss = objectLoss(value as object, depth, path, maxBytes);
  path?.pop();
  return loss;
}

function objectLoss(value: object, depth: number, path: object[] | undefined, maxBytes: number): string | undefined {
  if (Array.isArray(value)) {
    // Before its elements are walked: a sparse array of length 2^32 - 1 would take minutes (array-bound.ts).
    assertArrayFits(value, maxBytes);
    for (let i = 0; i < value.length; i++) {
      const loss = jsonLoss(value[i], depth + 1, path, maxBytes);
      if (loss !== undefined) return `[${i}]${loss}`;
    }
    return undefined;
  }
  if (value instanceof Map) return ' is a Map: JSON cannot hold it (it would write {}); convert it with Object.fromEntries';
  if (value instanceof Set) return ' is a Set: JSON cannot hold it (it would write {}); convert it with Array.from';
  if (value instanceof Error) return ' is an Error: JSON cannot hold it (it would write {}: message and stack are not own enumerable fields); convert it, e.g. { message: e.message }';
  if (value instanceof RegExp) return ' is a RegExp: JSON cannot hold it (it would write {}); use its source string';
  if (value instanceof Promise) return ` is a Promise: JSON cannot hold it (it would write {}); ${AWAIT_IT}`;
  if (value instanceof WeakMap || value instanceof WeakSet) return ' is a WeakMap or WeakSet: JSON cannot hold it (it would write {}); leave it out of the value';
  const object = value as Record<string, unknown>;
  if (typeof object.toJSON === 'function') return value instanceof Date ? undefined : jsonLoss(object.toJSON(), depth + 1, path, maxBytes);
  for (const key in object) {
    const loss = jsonLoss(object[key], depth + 1, path, maxBytes);
    // Inherited properties are not JSON's: checked only on the rare way out.
    if (loss !== undefined && Object.hasOwn(object, key)) return `${/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}${loss}`;
  }
  return undefined;
}

/**
 * msgpackr's `writeFunction` (typed `() => any`, called with the function):
 * a function has no MessagePack form, and msgpackr would write nil in its
 * place, silently.
 */
export const refuseFunction = ((fn: unknown) => {
  const name = (fn as { name?: unknown }).name;
  throw new TypeError(`it holds a function${typeof name === 'string' && name !== '' ? ` (${name})` : ''}, which MessagePack cannot hold`);
}) as () => never;

const AWAIT_IT = 'await it inside process() before emitting or returning the value';

// A Promise has no MessagePack form either: msgpackr would write {} (it has no own fields). An extension
// (msgpackr's are shared by every Packr) that refuses it, before it writes a byte of its own.
addExtension({
  Class: Promise,
  type: 0x51,
  write: () => { throw new TypeError(`it holds a Promise, which MessagePack cannot hold; ${AWAIT_IT}`); },
});

// useRecords: false keeps the bytes plain MessagePack, readable by any
// msgpack library (msgpackr's record extension is msgpackr-only).
const packr = new Packr({ useRecords: false, moreTypes: false, writeFunction: refuseFunction });

/**
 * MessagePack via msgpackr (plain MessagePack, no msgpackr extensions); a
 * function anywhere in the value is refused, and so is an array longer than
 * an entry can hold (array-bound.ts).
 */
export const msgpackSerializer: Serializer<unknown> = {
  contentType: 'application/msgpack',
  serialize(value) {
    return toMsgpack(value, MAX_ENCODED_VALUE_BYTES);
  },
  deserialize(bytes) {
    return packr.unpack(asBuffer(bytes)) as unknown;
  },
};

function toMsgpack(value: unknown, maxBytes: number): Buffer {
  assertNoLongArray(value, maxBytes);
  // pack() returns a view of msgpackr's reusable buffer: copy it out.
  return Buffer.from(packr.pack(value));
}

/** UTF-8 text. Values must be strings; bytes that are not UTF-8 fail to deserialize. */
export const stringSerializer: Serializer<string> = {
  contentType: 'text/plain; charset=utf-8',
  serialize(value) {
    if (typeof value !== 'string') throw new TypeError(`the string serializer takes strings, got ${typeof value}`);
    if (!value.isWellFormed()) throw new TypeError('the string contains a lone surrogate, which UTF-8 cannot carry');
    return value;
  },
  deserialize(bytes) {
    return utf8.decode(bytes);
  },
};

/** Bytes as they are: values are `Uint8Array` (or `Buffer`), and come back as `Buffer`. */
export const rawSerializer: Serializer<Uint8Array> = {
  contentType: 'application/octet-stream',
  serialize(value) {
    if (!(value instanceof Uint8Array)) throw new TypeError(`the raw serializer takes Uint8Array or Buffer, got ${typeof value}`);
    return value;
  },
  deserialize(bytes) {
    return asBuffer(bytes);
  },
};

const BUILT_IN: Record<SerializerName, Serializer<unknown>> = {
  json: jsonSerializer,
  msgpack: msgpackSerializer,
  string: stringSerializer as Serializer<unknown>,
  raw: rawSerializer as Serializer<unknown>,
};

/** Names of the built-in serializers, for option validation and help texts. */
export const SERIALIZER_NAMES = Object.keys(BUILT_IN) as SerializerName[];

/**
 * Resolves a serializer spec: a built-in by name, or a custom object checked
 * for its two methods. Throws CONFIG_INVALID otherwise.
 */
export function resolveSerializer<T>(spec: SerializerSpec<T>): Serializer<T> {
  if (typeof spec === 'string') {
    if (!Object.hasOwn(BUILT_IN, spec)) {
      throw new WalrusError('CONFIG_INVALID', `Unknown serializer "${spec}": use one of ${SERIALIZER_NAMES.join(', ')} or an object with serialize() and deserialize().`);
    }
    return BUILT_IN[spec] as Serializer<T>;
  }
  if (typeof spec !== 'object' || spec === null || typeof spec.serialize !== 'function' || typeof spec.deserialize !== 'function') {
    throw new WalrusError('CONFIG_INVALID', 'A custom serializer must be an object with serialize(value) and deserialize(bytes) methods.');
  }
  return spec;
}

/**
 * What a serializer's exception says. A stack overflow is a value nesting
 * deeper than the stack allows, or, for msgpack (which has no cycle check),
 * a value that refers to itself: "Maximum call stack size exceeded" alone
 * names neither.
 */
function whyNot(cause: unknown): string {
  const message = (cause as Error | null)?.message;
  if (cause instanceof RangeError && /call stack/i.test(String(message))) {
    return 'it nests too deeply or refers to itself (a cycle) (Maximum call stack size exceeded); send a flatter value without cycles';
  }
  return typeof message === 'string' ? message : typeof cause === 'string' ? cause : `the serializer threw a ${typeof cause}`;
}

/**
 * Serializes with `serializer` into bytes; any failure becomes
 * SERIALIZATION_ERROR. With a built-in serializer, a value holding an array
 * longer than `maxBytes` (the bytes one entry can hold, see
 * `valueBoundFor`) fails at once with MESSAGE_TOO_LARGE, before it is
 * walked element by element.
 */
export function serializeValue<T>(serializer: Serializer<T>, value: T, topic?: string, maxBytes: number = MAX_ENCODED_VALUE_BYTES): Uint8Array {
  let out: Uint8Array | string;
  try {
    out = serializer === jsonSerializer ? toJson(value, maxBytes)
      : serializer === msgpackSerializer ? toMsgpack(value, maxBytes)
      : serializer.serialize(value);
  } catch (cause) {
    const at = topic ? ` for topic ${topic}` : '';
    if (cause instanceof ArrayTooLong) {
      throw new WalrusError('MESSAGE_TOO_LARGE', `Could not serialize a value${at}: ${cause.message}.`, {
        cause,
        context: { size: cause.length, limit: cause.limit, ...(topic ? { topic } : {}) },
      });
    }
    throw new WalrusError('SERIALIZATION_ERROR', `Could not serialize a value${at}: ${whyNot(cause)}.`, {
      cause,
      context: topic ? { topic } : {},
    });
  }
  if (typeof out === 'string') return Buffer.from(out, 'utf8');
  if (out instanceof Uint8Array) return out;
  throw new WalrusError('SERIALIZATION_ERROR', `The serializer returned ${typeof out}; it must return a Uint8Array or a string.`, {
    context: topic ? { topic } : {},
  });
}
