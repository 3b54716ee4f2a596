import { WalrusError, isRetriable } from '../../errors/index.js';
import { realSleep, type Sleep } from '../../util/sleep.js';
import { onAbort } from '../../util/abort.js';
import { backoffDelay } from '../../util/backoff.js';

/** Decides whether `error` on `attempt` (1 = the first retry) should be retried, on top of its `retriable` flag. */
export type RetryPredicate = (error: unknown, attempt: number) => boolean;

export interface RetrySettings {
  retries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  /** Fraction of each delay that is randomised, 0..1. */
  jitter: number;
  retryIf?: RetryPredicate | undefined;
}

export interface RetrySeams {
  sleep?: Sleep;
  /** Uniform in [0, 1); swapped in tests for repeatable delays. */
  random?: () => number;
  /** Aborted when the client closes: a wait for a retry then ends at once with POOL_CLOSED. */
  stop?: AbortSignal;
}

/** Information given to `onRetry` before each wait. */
export interface RetryEvent {
  attempt: number;
  delayMs: number;
  error: unknown;
}

/**
 * Exponential backoff with jitter: the n-th retry waits
 * `min(maxDelay, initialDelay × multiplier^(n-1))`, of which the `jitter`
 * fraction is random ("equal jitter": with jitter 0.5 a 400 ms step waits
 * 200–400 ms), so clients that failed together do not retry together.
 *
 * Only errors whose `retriable` flag is true are retried, and only when
 * the optional `retryIf` predicate agrees — the predicate can narrow the
 * policy, never widen it to errors that are unsafe to repeat.
 */
export class RetryPolicy {
  readonly settings: Readonly<RetrySettings>;
  readonly #sleep: Sleep;
  readonly #random: () => number;
  readonly #stop: AbortSignal | undefined;

  constructor(settings: RetrySettings, seams: RetrySeams = {}) {
    this.settings = settings;
    this.#sleep = seams.sleep ?? realSleep;
    this.#random = seams.random ?? Math.random;
    this.#stop = seams.stop;
  }

  /** The wait before retry number `attempt` (1-based). */
  delayFor(attempt: number): number {
    // The `random` seam is documented as "how much of the jitter share to
    // take off" (0 = the full delay); backoffDelay's is the opposite way round.
    return backoffDelay(this.settings, attempt, 1 - this.#random());
  }

  shouldRetry(error: unknown, attempt: number, name = 'the call'): boolean {
    if (attempt > this.settings.retries) return false;
    if (!isRetriable(error)) return false;
    if (!this.settings.retryIf) return true;
    try {
      return this.settings.retryIf(error, attempt);
    } catch (thrown) {
      // The user's predicate failed: say so, and keep the error it was judging.
      const what = error instanceof WalrusError ? error.code : 'an error';
      const message = (thrown as Error | null)?.message;
      const reason = typeof message === 'string' ? JSON.stringify(message) : typeof thrown === 'string' ? JSON.stringify(thrown) : `a ${typeof thrown}`;
      throw new WalrusError('CONFIG_INVALID', `retry.retryIf threw ${reason} while judging ${what} (attempt ${attempt}) of ${name}; the call was not retried and failed with that error: ${(error as Error)?.message}`, {
        cause: error,
        context: { option: 'retry.retryIf', retryIfError: thrown },
      });
    }
  }

  /**
   * Runs `operation` (given the attempt number, 0 for the first try) until
   * it succeeds, fails with an error not worth retrying, or runs out of
   * retries; the last error is thrown with `context.attempts` set.
   */
  async execute<T>(operation: (attempt: number) => Promise<T>, options: { signal?: AbortSignal; onRetry?: (event: RetryEvent) => void; name?: string } = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await operation(attempt);
      } catch (error) {
        if (!this.shouldRetry(error, attempt + 1, options.name) || options.signal?.aborted) {
          if (error instanceof WalrusError && attempt > 0) error.context.attempts = attempt + 1;
          throw error;
        }
        // A breaker says when it will let calls through again: wait at least
        // that long, and give up at once (fail fast) when it is beyond the
        // longest wait this policy would ever make.
        const hinted = error instanceof WalrusError ? error.context.retryAfterMs : undefined;
        if (typeof hinted === 'number' && hinted > this.settings.maxDelayMs) throw error;
        const delayMs = Math.max(this.delayFor(attempt + 1), typeof hinted === 'number' ? hinted : 0);
        options.onRetry?.({ attempt: attempt + 1, delayMs, error });
        await this.#pause(delayMs, options.signal, options.name ?? 'the call', error);
      }
    }
  }

  /**
   * The wait before a retry, ended at once by the caller's signal or by
   * the client closing (`stop`): a call must not outlive close() by its
   * backoff, nor keep the process alive with the timer.
   */
  async #pause(ms: number, signal: AbortSignal | undefined, name: string, last: unknown): Promise<void> {
    const stop = this.#stop;
    if (stop === undefined) return this.#sleep(ms, signal);
    let both = stop;
    let off: Array<() => void> = [];
    if (signal !== undefined && !stop.aborted) {
      const controller = new AbortController();
      off = [onAbort(signal, () => controller.abort(signal.reason)), onAbort(stop, () => controller.abort(stop.reason))];
      both = controller.signal;
    }
    try {
      await this.#sleep(ms, both);
    } catch (error) {
      if (!stop.aborted || signal?.aborted) throw error;
    } finally {
      for (const f of off) f();
    }
    if (stop.aborted) {
      const code = last instanceof WalrusError ? last.code : 'an error';
      throw new WalrusError('POOL_CLOSED', `The client was closed while ${name} waited to retry after ${code}; it was not retried.`, { cause: last });
    }
  }
}
