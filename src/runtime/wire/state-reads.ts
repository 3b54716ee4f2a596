/**
 * State read on demand: how a worker reads a key's entries that did not
 * travel with its task.
 *
 * A stateful record normally ships every entry of its key (docs/state.md,
 * "Wiring"): tens of open windows, cheaper to send than to ask for. A key
 * with thousands of entries (1-minute windows under a week of grace) made
 * every record carry all of them both ways, though a record reads a few (its
 * window, the key's stream time, the windows it closes). Past
 * {@link REMOTE_AFTER} entries the task carries a handle instead, and the
 * worker reads what its processor touches, synchronously, from the
 * coordinator, which answers from the very entries it would have shipped
 * (the key's view as of dispatch: views are never changed in place, so the
 * answers are those entries whatever happens meanwhile, and the staleness
 * check on the result is unchanged).
 *
 * The channel: each worker thread makes a MessageChannel and a 4-byte
 * SharedArrayBuffer at start and sends one end and the buffer with its hello
 * (pool/worker-pool.ts). A read posts a request, then waits on the buffer
 * (Atomics.wait) until the coordinator has posted the answer and bumped the
 * counter, and takes the answer with receiveMessageOnPort: a processor's
 * `ctx.state(...).get()` stays synchronous.
 */
import type { RangeOptions } from '../../state/model/range.js';

/** Keys with more entries than this are read on demand (not shipped with the task). */
export const REMOTE_AFTER = 1_000;
/**
 * Entries that still travel from each end of such a key's entries: its
 * oldest and its newest. A windowed step reads its key's stream time and
 * newest windows, and closes its oldest: with both ends at hand, a worker
 * asks the coordinator only for what lies between (a late record's window).
 */
export const REMOTE_ENDS = 64;

/** What a task carries of a key read on demand: a handle, both ends of its entries, and where the first end stops. */
export interface RemotePreload {
  handle: number;
  head: ReadonlyArray<readonly [string, Uint8Array]>;
  tail: ReadonlyArray<readonly [string, Uint8Array]>;
  /** The first key not in `head`: keys below it are all in `head`, keys from `tail[0]` on all in `tail`. */
  headEnd: string;
}

/** A worker's request: one key, or one range, of the entries behind handle `h`. */
export type StateReadRequest =
  | { seq: number; h: number; get: string }
  | { seq: number; h: number; range: RangeOptions; limit?: number };

/** The coordinator's answer: the value (null: none), the range's entries as a blob (preload-blob.ts), or why not. */
export interface StateReadReply {
  seq: number;
  value?: Uint8Array | null;
  blob?: Uint8Array;
  error?: string;
}

/** What a worker's hello carries for state reads. */
export interface StateReadChannel {
  port: import('node:worker_threads').MessagePort;
  /** Int32 counter the coordinator bumps (and notifies) after each answer. */
  signal: SharedArrayBuffer;
}
