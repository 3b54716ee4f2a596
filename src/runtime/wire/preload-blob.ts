import { decodedEntries, type StatePreload } from '../../state/worker/worker-state.js';
import type { StateReader } from '../../state/model/change-set.js';
import type { MemberPreload } from './messages.js';
import { REMOTE_AFTER, REMOTE_ENDS, type RemotePreload } from './state-reads.js';

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

/** Makes the reader of the entries behind a handle, for store `store`. */
export type RemoteReaders = (store: string, remote: RemotePreload) => StateReader;

/**
 * One store's preload as it crosses: a blob of entries, the blob with the step's stream time (`{ blob, streamTime }`),
 * a refusal (`{ refused }`), or a handle (`{ remote, streamTime? }`).
 */
export function preloadData(p: StatePreload): unknown {
  if (p.refused !== undefined) return { refused: p.refused };
  if (p.remoteHandle !== undefined) {
    const { handle, head, tail, headEnd } = p.remoteHandle;
    const remote = { h: handle, head: packEntries(head), tail: packEntries(tail), headEnd };
    return p.streamTime === undefined ? { remote } : { remote, streamTime: p.streamTime };
  }
  return p.streamTime === undefined ? packEntries(p.entries) : { blob: packEntries(p.entries), streamTime: p.streamTime };
}

export function preloadOf(store: string, data: unknown): StatePreload {
  if (data instanceof Uint8Array) return { store, entries: unpackEntries(data) };
  const { refused, blob, streamTime, remote } = (data ?? {}) as { refused?: unknown; blob?: unknown; streamTime?: unknown; remote?: unknown };
  if (typeof refused === 'string') return { store, entries: [], refused };
  if (typeof remote === 'object' && remote !== null) {
    const { h, head, tail, headEnd } = remote as { h: number; head: Uint8Array; tail: Uint8Array; headEnd: string };
    const remoteHandle = { handle: h, head: unpackEntries(head), tail: unpackEntries(tail), headEnd };
    return typeof streamTime === 'number' ? { store, entries: [], remoteHandle, streamTime } : { store, entries: [], remoteHandle };
  }
  if (blob instanceof Uint8Array && typeof streamTime === 'number') return { store, entries: unpackEntries(blob), streamTime };
  return { store, entries: data as StatePreload['entries'] };
}

/*
 * Preloads cross as one list per record whose store names are
 * `<member>/<store>`: every record of a batch then names the same stores in
 * the same order, so the names go once per batch (byStore).
 */
/** Entries that crossed with tasks, the most in one preload, and preloads sent by handle instead (tests read them). */
export const preloadStats = { entriesShipped: 0, mostShipped: 0, byHandle: 0 };

export function flattenPreload(list: MemberPreload[], share: ((entries: StatePreload['entries']) => number) | undefined): StatePreload[] {
  const out: StatePreload[] = [];
  for (const p of list) {
    for (const s of p.stores) {
      const store = `${p.member}/${s.store}`;
      if (share === undefined || s.refused !== undefined || s.entries.length <= REMOTE_AFTER) {
        out.push({ ...s, store });
        preloadStats.entriesShipped += s.entries.length;
        if (s.entries.length > preloadStats.mostShipped) preloadStats.mostShipped = s.entries.length;
        continue;
      }
      preloadStats.byHandle += 1;
      const n = s.entries.length;
      const remoteHandle = { handle: share(s.entries), head: s.entries.slice(0, REMOTE_ENDS), tail: s.entries.slice(n - REMOTE_ENDS), headEnd: s.entries[REMOTE_ENDS]![0] };
      preloadStats.entriesShipped += 2 * REMOTE_ENDS;
      out.push(s.streamTime === undefined ? { store, entries: [], remoteHandle } : { store, entries: [], remoteHandle, streamTime: s.streamTime });
    }
  }
  return out;
}

export function unflattenPreload(flat: StatePreload[], remote: RemoteReaders | undefined): MemberPreload[] {
  const out: MemberPreload[] = [];
  for (const s of flat) {
    const slash = s.store.indexOf('/');
    const member = Number(s.store.slice(0, slash));
    let last = out[out.length - 1];
    if (last === undefined || last.member !== member) { last = { member, stores: [] }; out.push(last); }
    const store = s.store.slice(slash + 1);
    if (s.remoteHandle !== undefined && remote !== undefined) last.stores.push({ ...s, store, remote: remote(store, s.remoteHandle) });
    else last.stores.push({ ...s, store });
  }
  return out;
}
