import type { ProcessorRetrySpec } from '../../topology/types.js';
import { backoffDelay } from '../../util/backoff.js';

/**
 * Delay before attempt `attempt + 1`, after `attempt` failed attempts.
 * "Equal jitter": half the computed delay is fixed, half random, so retries
 * of records that failed together spread out but never retry at once.
 *
 * @param random a number in [0, 1) (a seam for tests)
 */
export function retryDelay(retry: ProcessorRetrySpec, attempt: number, random: number = Math.random()): number {
  return backoffDelay({ shape: retry.backoff, initialDelayMs: retry.initialDelay, maxDelayMs: retry.maxDelay, jitter: 0.5 }, attempt, random);
}
