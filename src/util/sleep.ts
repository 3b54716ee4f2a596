import { WalrusError } from '../errors/index.js';
import { onAbort as whenAborted } from './abort.js';

/** Waits `ms` (rejecting with ABORTED when `signal` fires). The seam type retries and pools take. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface SleepOptions {
  signal?: AbortSignal | undefined;
  /**
   * What an abort does: `'reject'` with an ABORTED error (a caller that must
   * stop), or `'resolve'` early (a poll loop that re-checks its own state).
   * @default 'reject'
   */
  onAbort?: 'reject' | 'resolve';
  /** Let the process exit while this timer is pending (background retries). @default false */
  unref?: boolean;
}

/** The longest delay a Node.js timer takes (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The one timer-based sleep; every wait in the codebase goes through it. */
export function sleep(ms: number, options: SleepOptions = {}): Promise<void> {
  const { signal, onAbort = 'reject', unref = false } = options;
  if (signal?.aborted) return onAbort === 'reject' ? Promise.reject(abortError(signal)) : Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let stopListening: (() => void) | undefined;
    // Node fires a timer longer than MAX_TIMER_MS after 1 ms (with a TimeoutOverflowWarning): a long
    // wait (a tiny rate limit's next token) is slept in steps of at most that, never cut short.
    let left = Math.max(0, ms);
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      const step = Math.min(left, MAX_TIMER_MS);
      left -= step;
      timer = setTimeout(() => {
        if (left > 0) { arm(); return; }
        stopListening?.();
        resolve();
      }, step);
      if (unref) timer.unref();
    };
    arm();
    if (signal) {
      stopListening = whenAborted(signal, () => {
        clearTimeout(timer);
        if (onAbort === 'reject') reject(abortError(signal));
        else resolve();
      });
    }
  });
}

/** A {@link Sleep} that rejects with ABORTED when its signal fires. */
export const realSleep: Sleep = (ms, signal) => sleep(ms, { signal });

/** The ABORTED error for a fired signal, keeping its reason as the cause. */
export function abortError(signal: AbortSignal, context: Record<string, unknown> = {}): WalrusError {
  return new WalrusError('ABORTED', 'The operation was aborted by its AbortSignal.', { cause: signal.reason, context });
}
