import { Packr, addExtension } from 'msgpackr';
import { WalrusError } from '../../errors/index.js';
import { PLAIN, checkValue } from './value-check.js';

/**
 * One msgpack codec for everything the state layer writes: values, log
 * frames, snapshots and changelog entries. `useRecords: false` keeps the
 * bytes plain msgpack (no msgpackr record extension), so a file written by
 * one version stays readable by any msgpack reader. `copyBuffers`: values
 * decoded from a log or snapshot file are copied out of it, so keeping one
 * small value does not keep the whole file's buffer in memory.
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, copyBuffers: true });

/*
 * The typed encoding: what a state value needs to come back as it was when
 * plain msgpack would change it (value-check.ts says which). The same plain
 * msgpack, plus extensions that plain msgpack never wrote, so every value
 * stored before reads back as it did, and one decoder reads both (msgpackr
 * decodes its extensions whatever the options): `moreTypes` writes a Set as
 * msgpackr's Set extension (0x73), a typed array, ArrayBuffer or DataView as
 * its typed-array extension (0x74: a Uint8Array stays a Uint8Array), and a
 * BigInt past 64 bits as its BigInt extension (0x42). msgpackr writes a Map
 * as a msgpack map (an object when read), -0 as the integer 0 and a Buffer as
 * bin before consulting any extension, so {@link typedCopy} puts a
 * {@link Typed} in their place, written as an extension of ours. msgpackr's
 * extensions are shared by every Packr of the process; the class is private
 * to this file, so no other packr ever writes it.
 */
const typedPackr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true, copyBuffers: true });

/**
 * What plain msgpack would change, on its way to the bytes: a Map (its keys
 * and values, flat, each already a {@link typedCopy}), -0, or a Buffer (as a
 * Uint8Array: msgpack bin reads back as the type of the bytes read from, so a
 * Buffer came back a Uint8Array once its bytes had crossed a thread). One
 * class and one extension type for the three: msgpackr checks a value against
 * every extension class before Date's (three classes seemed to make packing a
 * value holding a Date ~60 ns slower, in every Packr of the process).
 */
class Typed {
  constructor(readonly kind: number, readonly data: unknown) {}
}
const MAP = 0, NEGATIVE_ZERO = 1, BUFFER = 2;
const NEGATIVE_ZERO_VALUE = new Typed(NEGATIVE_ZERO, null);

/** msgpackr extension type of {@link Typed} (0x50 and 0x51 are taken by src/runtime/wire and src/codec; msgpackr's own are elsewhere). */
export const TYPED_EXTENSION = 0x4d;

const typedExtension = {
  type: TYPED_EXTENSION,
  write: (typed: Typed): unknown => [typed.kind, typed.data],
  read: (read: unknown): unknown => {
    const [kind, data] = Array.isArray(read) ? read as unknown[] : [];
    if (kind === NEGATIVE_ZERO) return -0;
    if (kind === BUFFER && data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (kind === MAP && Array.isArray(data) && data.length % 2 === 0) {
      const map = new Map<unknown, unknown>();
      for (let i = 0; i < data.length; i += 2) map.set(data[i], data[i + 1]);
      return map;
    }
    throw new TypeError(`a stored value holds a malformed extension ${TYPED_EXTENSION} (kind ${String(kind)})`);
  },
};
// Reading it costs nothing until it is met: registered now. Writing it puts a class before Date's in every Packr's
// list: registered the first time a value needs it, so a process that stores plain data only never pays for it.
addExtension({ type: TYPED_EXTENSION, read: typedExtension.read });
let writesTyped = false;

function packTyped(value: unknown): Uint8Array {
  if (!writesTyped) {
    addExtension({ Class: Typed, ...typedExtension });
    writesTyped = true;
  }
  return typedPackr.pack(typedCopy(value));
}

/** `value` with every Map, -0 and Buffer a {@link Typed}; checked by value-check.ts first (no cycle, plain data). */
function typedCopy(value: unknown): unknown {
  if (typeof value === 'number') return value === 0 && 1 / value < 0 ? NEGATIVE_ZERO_VALUE : value;
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(typedCopy);
  if (value instanceof Map) {
    const flat: unknown[] = [];
    for (const [key, item] of value) flat.push(typedCopy(key), typedCopy(item));
    return new Typed(MAP, flat);
  }
  if (value instanceof Set) return new Set([...value].map(typedCopy));
  if (Buffer.isBuffer(value)) return new Typed(BUFFER, new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value; // a Date, bytes: written as they are
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = typedCopy((value as Record<string, unknown>)[key]); // never "__proto__": refused
  return copy;
}

/** Largest encoded value a store accepts. It must fit one changelog entry after base64 (4/3) plus framing. */
export const MAX_VALUE_BYTES = 32 * 1024;
/** Longest key (UTF-8 bytes) a store accepts. */
export const MAX_KEY_BYTES = 1024;

export function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function unpack<T = unknown>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}

/** Encodes a user value, refusing what could not be restored from the changelog. */
export function encodeValue(store: string, key: string, value: unknown): Uint8Array {
  if (value === undefined) {
    throw new WalrusError('STATE_STORE_ERROR', `store "${store}": put("${key}", undefined) is not allowed; use delete("${key}") to remove a key`, {
      context: { store, key },
    });
  }
  const verdict = checkValue(value, MAX_VALUE_BYTES);
  if (typeof verdict === 'string') {
    throw new WalrusError('STATE_STORE_ERROR', `store "${store}": the value for key "${key}" cannot be stored: ${verdict}`, {
      context: { store, key },
    });
  }
  let bytes: Uint8Array;
  try {
    bytes = verdict === PLAIN ? packr.pack(value) : packTyped(value);
  } catch (cause) {
    throw new WalrusError('STATE_STORE_ERROR', `store "${store}": the value for key "${key}" cannot be encoded with msgpack: ${(cause as Error).message}`, {
      cause, context: { store, key },
    });
  }
  if (bytes.length > MAX_VALUE_BYTES) {
    throw new WalrusError('STATE_STORE_ERROR', `store "${store}": the value for key "${key}" is ${bytes.length} bytes encoded, above the ${MAX_VALUE_BYTES}-byte limit; store smaller values (split it over several keys)`, {
      context: { store, key, size: bytes.length, limit: MAX_VALUE_BYTES },
    });
  }
  return bytes;
}

export function decodeValue<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}

/** Checks a key before it is used: a string of 1..MAX_KEY_BYTES UTF-8 bytes. */
export function assertKey(store: string, key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new WalrusError('STATE_STORE_ERROR', `store "${store}": keys must be non-empty strings, got ${typeof key === 'string' ? 'an empty string' : typeof key}`, {
      context: { store },
    });
  }
  if (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new WalrusError('STATE_STORE_ERROR', `store "${store}": key "${key.slice(0, 40)}…" is longer than ${MAX_KEY_BYTES} UTF-8 bytes`, {
      context: { store, size: Buffer.byteLength(key), limit: MAX_KEY_BYTES },
    });
  }
}
