/**
 * `source` of a stream-time tick: a record the coordinator (src/runtime/state/stream-time.ts)
 * sends a windowed aggregate step for a key that went quiet, its value the step's
 * stream time. No user record can carry it: sources and processor outputs are
 * named with letters, digits and `._-` only.
 */
export const TICK_SOURCE = '\u0000stream-time';
