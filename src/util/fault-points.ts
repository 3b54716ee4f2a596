import { writeSync } from 'node:fs';

/**
 * Deterministic crash points for tests (docs/state.md, "Testing crashes").
 *
 * `WALRUS_STREAM_FAULT=<point>:<n>` makes the process SIGKILL itself the
 * n-th time it reaches `<point>` — a `kill -9` at an exact place in the
 * commit protocol instead of at a random moment. `<point>:<n>:stop` sends
 * SIGSTOP instead: the process freezes there (a long GC pause, a suspended
 * VM) until the test sends SIGCONT. Read once when the module loads; unset,
 * every point costs one boolean check.
 */
export const FAULT_POINTS = [
  /** A sink write was acknowledged by Walrus; its records' state is not committed yet. */
  'sink.acked',
  /** A store wrote a batch of commits to its log (durable), before the changelog publish and before their commit resolves. */
  'state.log-written',
  /** Some stores committed an entry's changes, the next store has not started (an entry whose records changed two stores). */
  'state.between-stores',
  /** Every state change of an entry is committed; its journal release has not started. */
  'state.committed',
  /** A journal release is durable; the stores have not been told (`markReleased`). */
  'journal.released',
  /** A restore read a changelog batch from the node; it is not in the local store yet. */
  'state.restore-fetched',
  /** The embedded node: a cursor past consumed segments is durable; their files are about to be deleted (retention). */
  'broker.segments-unlinking',
  /** The embedded node deleted one consumed segment file (others of the same sync may be left). */
  'broker.segment-unlinked',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

const raw = process.env.WALRUS_STREAM_FAULT;
/** True when a fault point is armed (tests only). */
export const FAULTS_ARMED = raw !== undefined && raw !== '';

let armed: FaultPoint | undefined;
let remaining = 0;
let signal: 'SIGKILL' | 'SIGSTOP' = 'SIGKILL';
if (FAULTS_ARMED) {
  const match = /^([a-z.-]+):([1-9][0-9]*)(:stop)?$/.exec(raw!.trim());
  if (!match || !(FAULT_POINTS as readonly string[]).includes(match[1]!)) {
    throw new Error(`WALRUS_STREAM_FAULT=${raw}: expected <point>:<n>[:stop] with n >= 1 and point one of ${FAULT_POINTS.join(', ')}`);
  }
  armed = match[1] as FaultPoint;
  remaining = Number(match[2]);
  if (match[3] !== undefined) signal = 'SIGSTOP';
}

/** Marks `point` reached: the n-th time (see WALRUS_STREAM_FAULT) the process kills itself with SIGKILL (or freezes: SIGSTOP). */
export function faultPoint(point: FaultPoint): void {
  if (!FAULTS_ARMED || point !== armed) return;
  remaining -= 1;
  if (remaining !== 0) return;
  // Said on stderr first (synchronously), so a test can tell this kill from any other.
  writeSync(2, `WALRUS_STREAM_FAULT: ${signal} at ${point}\n`);
  process.kill(process.pid, signal);
}
