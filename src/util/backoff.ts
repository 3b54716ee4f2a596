/**
 * The one backoff computation. Every retry loop (client requests, processor
 * retries, sink flushes, changelog publishes) asks this for its next wait,
 * so "exponential, capped, with a jittered share" means the same everywhere.
 */

/** How the un-jittered delay grows with the attempt number. */
export type BackoffShape = 'exponential' | 'linear' | 'fixed';

export interface Backoff {
  /** @default 'exponential' */
  shape?: BackoffShape;
  /** Delay before the first retry, before jitter. */
  initialDelayMs: number;
  /** Cap on the un-jittered delay. */
  maxDelayMs: number;
  /** Growth factor per attempt for the exponential shape. @default 2 */
  multiplier?: number;
  /**
   * Fraction (0..1) of each delay that is random ("equal jitter" at 0.5: a
   * 400 ms step waits 200–400 ms), so callers that failed together do not
   * retry together. @default 0
   */
  jitter?: number;
}

/**
 * The wait before retry number `attempt` (1-based; values below 1 count as 1):
 * `min(maxDelay, initialDelay × growth(attempt))`, of which the `jitter`
 * share is scaled by `random`.
 *
 * @param random uniform in [0, 1): 0 gives the shortest wait, towards 1 the
 *   full capped delay (a seam for tests).
 */
export function backoffDelay(backoff: Backoff, attempt: number, random: number = Math.random()): number {
  const n = Math.max(1, attempt);
  const { initialDelayMs, maxDelayMs, jitter = 0 } = backoff;
  let base: number;
  switch (backoff.shape ?? 'exponential') {
    case 'fixed': base = initialDelayMs; break;
    case 'linear': base = initialDelayMs * n; break;
    default: base = initialDelayMs * (backoff.multiplier ?? 2) ** (n - 1);
  }
  const capped = Math.min(base, maxDelayMs);
  const floor = capped * (1 - jitter);
  return Math.round(floor + (capped - floor) * random);
}
