import { decodedEntries } from '../../state/worker/worker-state.js';

/**
 * A preload's entries as one byte string: `[u32 count]` then, per entry,
 * `[u32 key bytes][key utf8][u32 value bytes][value]` (little-endian).
 *
 * A stateful record ships its key's entries to a worker (every open window
 * of a windowed aggregate: tens of entries). As msgpack, each entry was an
 * array, a string and a typed-array extension to write, and a new typed array
 * to allocate when read: 5× the cost of the rest of the record on both sides.
 * As one blob it is one copy per entry to write, and the values read back are
 * views into the blob.
 */
const decoder = new TextDecoder();

export function packEntries(entries: ReadonlyArray<readonly [string, Uint8Array]>): Uint8Array {
  let size = 4;
  for (let i = 0; i < entries.length; i++) size += 8 + Buffer.byteLength(entries[i]![0]) + entries[i]![1].length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(entries.length, 0);
  let at = 4;
  for (let i = 0; i < entries.length; i++) {
    const [key, value] = entries[i]!;
    const klen = out.write(key, at + 4, 'utf8');
    out.writeUInt32LE(klen, at);
    at += 4 + klen;
    out.writeUInt32LE(value.length, at);
    out.set(value, at + 4);
    at += 4 + value.length;
  }
  return out;
}

/**
 * The entries of a blob. A preload comes in key order; checked here as the
 * keys are decoded, the list is then marked so, and as the worker's own
 * (`decodedEntries`): the records of a key run that are given it neither
 * compare every entry again nor copy them to fold in their writes.
 */
export function unpackEntries(blob: Uint8Array): Array<[string, Uint8Array]> {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const n = view.getUint32(0, true);
  const out = new Array<[string, Uint8Array]>(n);
  let at = 4;
  let sorted = true;
  let previous = '';
  for (let i = 0; i < n; i++) {
    const klen = view.getUint32(at, true);
    const key = decoder.decode(blob.subarray(at + 4, at + 4 + klen));
    if (i > 0 && !(previous < key)) sorted = false;
    previous = key;
    at += 4 + klen;
    const vlen = view.getUint32(at, true);
    out[i] = [key, blob.subarray(at + 4, at + 4 + vlen)];
    at += 4 + vlen;
  }
  return decodedEntries(out, sorted);
}
