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

/**
 * Records waiting out their retry backoff: in flight, but in no worker, so
 * the stop's abort point (which cuts short what is inside a processor) does
 * not reach them. {@link cutShort} takes them all at once, timers cleared;
 * without it a stop waited out every backoff (up to `retry.maxDelay`), gave
 * up past its deadline blaming the node or the processor, and the timers
 * kept the process alive after the run had ended.
 */
export class Backoffs<T> {
  readonly #waiting = new Map<T, { member: string; cancel: () => void }>();
  readonly #setTimer: ((fn: () => void, ms: number) => unknown) | undefined;
  #cut = false;

  /** @param setTimer schedules the waits (a virtual clock in the test driver); default: setTimeout, cleared when cut short. */
  constructor(setTimer?: (fn: () => void, ms: number) => unknown) {
    this.#setTimer = setTimer;
  }

  /** True once cut short: a failure from now on is not retried. */
  get cut(): boolean {
    return this.#cut;
  }

  /** Calls `fire` after `ms`, unless cut short before. */
  wait(unit: T, member: string, ms: number, fire: () => void): void {
    const due = () => { if (this.#waiting.delete(unit)) fire(); };
    if (this.#setTimer !== undefined) {
      this.#setTimer(due, ms);
      this.#waiting.set(unit, { member, cancel: () => undefined });
      return;
    }
    const timer = setTimeout(due, ms);
    this.#waiting.set(unit, { member, cancel: () => clearTimeout(timer) });
  }

  /** Ends every wait (none fires) and refuses new ones; returns the units that were waiting, each with its member. */
  cutShort(): Array<{ unit: T; member: string }> {
    this.#cut = true;
    const out: Array<{ unit: T; member: string }> = [];
    for (const [unit, { member, cancel }] of this.#waiting) {
      cancel();
      out.push({ unit, member });
    }
    this.#waiting.clear();
    return out;
  }
}
