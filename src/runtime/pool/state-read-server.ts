/**
 * The coordinator's side of state read on demand (wire/state-reads.ts): the
 * entries each task's handles stand for, and the answers to the worker
 * threads' reads, from those entries only.
 */
import type { MessagePort } from 'node:worker_threads';
import { inRange, lowerBound, type RangeOptions } from '../../state/model/range.js';
import { packEntries } from '../wire/preload-blob.js';
import type { StateReadChannel, StateReadReply, StateReadRequest } from '../wire/state-reads.js';
import { PreloadedState, lowerIndex, sortedEntries } from '../../state/worker/worker-state.js';

type Entries = ReadonlyArray<readonly [string, Uint8Array]>;

/** Reads answered, by every server of this process (tests). */
export const stateReadStats = { answered: 0 };

export class StateReadServer {
  /** What each handle stands for: the key's entries as of dispatch (sorted: a store's scope view), read through once built. */
  readonly #handles = new Map<number, { entries: Entries; reader?: PreloadedState }>();
  readonly #ports = new Map<number, MessagePort>();
  #next = 0;
  /** Reads answered (stats; tests read them). */
  answered = 0;

  /** Takes a worker thread's channel: its reads are answered from now on. */
  attach(threadId: number, channel: StateReadChannel): void {
    const { port } = channel;
    const signal = new Int32Array(channel.signal);
    this.#ports.get(threadId)?.close();
    this.#ports.set(threadId, port);
    port.on('message', (request: StateReadRequest) => {
      port.postMessage(this.#answer(request));
      // After the post: the worker takes the answer once it sees the counter move.
      Atomics.add(signal, 0, 1);
      Atomics.notify(signal, 0);
    });
    // The channel must not keep the coordinator alive on its own.
    port.unref();
  }

  detach(threadId: number): void {
    this.#ports.get(threadId)?.close();
    this.#ports.delete(threadId);
  }

  /** A handle for `entries` (a store's view of one key, in key order), valid until released. */
  register(entries: Entries): number {
    const handle = ++this.#next;
    this.#handles.set(handle, { entries });
    return handle;
  }

  release(handles: readonly number[]): void {
    for (const h of handles) this.#handles.delete(h);
  }

  /** Handles not released yet (tests: none once a run is over). */
  get open(): number {
    return this.#handles.size;
  }

  close(): void {
    for (const port of this.#ports.values()) port.close();
    this.#ports.clear();
    this.#handles.clear();
  }

  #answer(request: StateReadRequest): StateReadReply {
    const seq = typeof request?.seq === 'number' ? request.seq : -1;
    const held = this.#handles.get(request?.h);
    if (held === undefined) {
      return { seq, error: 'the state this read was for is no longer held: its task is over (state read after process() returned, or from a timer)' };
    }
    this.answered += 1;
    stateReadStats.answered += 1;
    held.reader ??= new PreloadedState(sortedEntries(held.entries));
    if ('get' in request && typeof request.get === 'string') {
      const value = held.reader.getBytes(request.get);
      // A copy: a value is often a view into a larger buffer, which a post would copy whole.
      return { seq, value: value === undefined ? null : value.slice() };
    }
    if ('range' in request && typeof request.range === 'object' && request.range !== null) {
      const limit = typeof request.limit === 'number' && request.limit > 0 ? request.limit : undefined;
      return { seq, blob: packEntries(limit === undefined ? held.reader.rangeBytes(request.range) : firstInRange(held.entries, request.range, limit)) };
    }
    return { seq, error: 'a state read that is neither a get nor a range' };
  }
}

/** The first `limit` entries of `sorted` (in key order) within `range`, from a binary search for its start. */
function firstInRange(sorted: Entries, range: RangeOptions, limit: number): Array<readonly [string, Uint8Array]> {
  const out: Array<readonly [string, Uint8Array]> = [];
  for (let i = lowerIndex(sorted, lowerBound(range)); i < sorted.length && out.length < limit; i++) {
    const key = sorted[i]![0];
    if (range.end !== undefined && key >= range.end) break;
    if (inRange(key, range)) out.push(sorted[i]!);
    else if (range.prefix !== undefined && key > range.prefix && !key.startsWith(range.prefix)) break;
  }
  return out;
}
