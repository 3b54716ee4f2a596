/**
 * Time seams. Breakers, retries and pools read time and sleep through these,
 * so tests can drive them with a fake clock instead of waiting. The sleep
 * itself lives in util/sleep.ts (one implementation for the whole codebase).
 */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };
