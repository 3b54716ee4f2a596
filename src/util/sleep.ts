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

/** The one timer-based sleep; every wait in the codebase goes through it. */
export function sleep(ms: number, options: SleepOptions = {}): Promise<void> {
  const { signal, onAbort = 'reject', unref = false } = options;
  if (signal?.aborted) return onAbort === 'reject' ? Promise.reject(abortError(signal)) : Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let stopListening: (() => void) | undefined;
    const timer = setTimeout(() => {
      stopListening?.();
      resolve();
    }, Math.max(0, ms));
    if (unref) timer.unref();
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
