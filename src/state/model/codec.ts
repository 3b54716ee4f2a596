import { Packr } from 'msgpackr';
import { WalrusError } from '../../errors/index.js';
import { unstorableReason } from './value-check.js';

/**
 * One msgpack codec for everything the state layer writes: values, log
 * frames, snapshots and changelog entries. `useRecords: false` keeps the
 * bytes plain msgpack (no msgpackr record extension), so a file written by
 * one version stays readable by any msgpack reader. `copyBuffers`: values
 * decoded from a log or snapshot file are copied out of it, so keeping one
 * small value does not keep the whole file's buffer in memory.
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, copyBuffers: true });

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
  const reason = unstorableReason(value, MAX_VALUE_BYTES);
  if (reason !== undefined) {
    throw new WalrusError('STATE_STORE_ERROR', `store "${store}": the value for key "${key}" cannot be stored: ${reason}`, {
      context: { store, key },
    });
  }
  let bytes: Uint8Array;
  try {
    bytes = packr.pack(value);
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
