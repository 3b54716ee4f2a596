/**
 * The worker's side of state read on demand (wire/state-reads.ts): the
 * thread's channel to the coordinator, and the reader a task's remote
 * preload becomes. Reads are synchronous: the thread waits for the answer.
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { WalrusError } from '../../errors/index.js';
import type { StateReader } from '../../state/model/change-set.js';
import { lowerBound, type RangeOptions } from '../../state/model/range.js';
import { PreloadedState } from '../../state/worker/worker-state.js';
import { unpackEntries } from '../wire/preload-blob.js';
import type { RemotePreload, StateReadChannel, StateReadReply, StateReadRequest } from '../wire/state-reads.js';

/** How long a read waits for the coordinator before it fails (retriable): the coordinator answers in microseconds unless it is gone. */
const READ_TIMEOUT_MS = 30_000;

let channel: { port: MessagePort; signal: Int32Array } | undefined;
let seq = 0;

/** Makes this thread's channel; returns the coordinator's end, for the hello. */
export function openStateReads(): StateReadChannel {
  const { port1, port2 } = new MessageChannel();
  // No listener on this end (answers are taken with receiveMessageOnPort), and it must not keep the thread alive.
  port1.unref();
  const signal = new SharedArrayBuffer(4);
  channel = { port: port1, signal: new Int32Array(signal) };
  return { port: port2, signal };
}

function request(store: string, body: { h: number; get: string } | { h: number; range: RangeOptions; limit?: number }): StateReadReply {
  if (channel === undefined) throw readError(store, 'this thread has no channel to the coordinator');
  const { port, signal } = channel;
  const id = ++seq;
  let seen = Atomics.load(signal, 0);
  port.postMessage({ seq: id, ...body } as StateReadRequest);
  const deadline = performance.now() + READ_TIMEOUT_MS;
  for (;;) {
    const got = receiveMessageOnPort(port);
    if (got !== undefined) {
      const reply = got.message as StateReadReply;
      if (reply.seq === id) return reply;
      continue; // the answer to an earlier read that gave up waiting
    }
    const left = deadline - performance.now();
    if (left <= 0) throw readError(store, `no answer from the coordinator in ${READ_TIMEOUT_MS} ms`, true);
    Atomics.wait(signal, 0, seen, left);
    seen = Atomics.load(signal, 0);
  }
}

function readError(store: string, why: string, retriable = false): WalrusError {
  return new WalrusError('STATE_STORE_ERROR', `store "${store}": reading the record key's state from the coordinator failed: ${why}`, {
    retriable, context: { store },
  });
}

/** Entries a read past the first end brings at a time, extending it (a run of records closing window after window). */
const EXTEND_BY = 256;

/**
 * A key's entries read on demand: both ends at hand (what the task carried),
 * the rest asked of the coordinator as the processor reads it. A range from
 * the first end on (a windowed step closing its oldest windows) extends that
 * end, so a key run closing window after window asks once per EXTEND_BY of
 * them; a key or range in the middle is asked on its own, once: the entries
 * behind a handle never change.
 */
export class RemoteState implements StateReader {
  readonly #store: string;
  readonly #handle: number;
  #head: Array<readonly [string, Uint8Array]>;
  readonly #tail: ReadonlyArray<readonly [string, Uint8Array]>;
  /** Every entry below `#headEnd` and from `#tailStart` on is in `#ends`. */
  #ends: PreloadedState;
  #headEnd: string;
  readonly #tailStart: string;
  readonly #values = new Map<string, Uint8Array | undefined>();
  readonly #ranges = new Map<string, Array<[string, Uint8Array]>>();

  constructor(store: string, remote: RemotePreload) {
    this.#store = store;
    this.#handle = remote.handle;
    this.#head = [...remote.head];
    this.#tail = remote.tail;
    this.#ends = new PreloadedState([...this.#head, ...this.#tail]);
    this.#headEnd = remote.headEnd;
    this.#tailStart = remote.tail[0]?.[0] ?? remote.headEnd;
  }

  #atHand(key: string): boolean {
    return key < this.#headEnd || key >= this.#tailStart;
  }

  getBytes(key: string): Uint8Array | undefined {
    if (this.#atHand(key)) return this.#ends.getBytes(key);
    if (this.#values.has(key)) return this.#values.get(key);
    const reply = request(this.#store, { h: this.#handle, get: key });
    if (reply.error !== undefined) throw readError(this.#store, reply.error);
    const value = reply.value ?? undefined;
    this.#values.set(key, value);
    return value;
  }

  rangeBytes(opts: RangeOptions): Array<[string, Uint8Array]> {
    const from = lowerBound(opts);
    // Wholly within one end: every key of the range is at hand.
    if ((opts.end !== undefined && opts.end <= this.#headEnd) || from >= this.#tailStart) return this.#ends.rangeBytes(opts);
    if (from < this.#headEnd) {
      this.#extendHead(opts.end);
      return this.#ends.rangeBytes(opts);
    }
    const range = { prefix: opts.prefix, start: opts.start, end: opts.end };
    const id = JSON.stringify(range);
    const known = this.#ranges.get(id);
    if (known !== undefined) return known.slice();
    const entries = this.#fetch(range);
    this.#ranges.set(id, entries);
    return entries.slice();
  }

  /** Brings the first end up to `end` (undefined: up to the second end), EXTEND_BY entries a read. */
  #extendHead(end: string | undefined): void {
    const before = this.#head.length;
    while (this.#headEnd < this.#tailStart && (end === undefined || this.#headEnd < end)) {
      const got = this.#fetch({ start: this.#headEnd, end: this.#tailStart }, EXTEND_BY);
      for (const entry of got) this.#head.push(entry);
      // Every key up to the last one read is now at hand: the next string after it bounds them.
      this.#headEnd = got.length < EXTEND_BY ? this.#tailStart : `${got[got.length - 1]![0]}\u0000`;
    }
    if (this.#head.length !== before) this.#ends = new PreloadedState([...this.#head, ...this.#tail]);
  }

  #fetch(range: RangeOptions, limit?: number): Array<[string, Uint8Array]> {
    const reply = request(this.#store, { h: this.#handle, range, limit });
    if (reply.error !== undefined || reply.blob === undefined) throw readError(this.#store, reply.error ?? 'the answer holds no entries');
    return unpackEntries(reply.blob);
  }
}
