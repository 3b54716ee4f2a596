import type { ProcessorRetrySpec } from '../../topology/types.js';

/**
 * Delay before attempt `attempt + 1`, after `attempt` failed attempts.
 * "Equal jitter": half the computed delay is fixed, half random, so retries
 * of records that failed together spread out but never retry at once.
 *
 * @param random a number in [0, 1) (a seam for tests)
 */
export function retryDelay(retry: ProcessorRetrySpec, attempt: number, random: number = Math.random()): number {
  const n = Math.max(1, attempt);
  let base: number;
  switch (retry.backoff) {
    case 'fixed': base = retry.initialDelay; break;
    case 'linear': base = retry.initialDelay * n; break;
    default: base = retry.initialDelay * 2 ** (n - 1);
  }
  const capped = Math.min(base, retry.maxDelay);
  return Math.round(capped / 2 + (capped / 2) * random);
}
