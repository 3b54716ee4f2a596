import { WalrusError } from '../../errors/index.js';

/**
 * Time seams. Breakers, retries and pools read time and sleep through these,
 * so tests can drive them with a fake clock instead of waiting.
 */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };

/** Waits `ms` (rejecting with ABORTED when `signal` fires). */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** The ABORTED error for a fired signal, keeping its reason as the cause. */
export function abortError(signal: AbortSignal, context: Record<string, unknown> = {}): WalrusError {
  return new WalrusError('ABORTED', 'The operation was aborted by its AbortSignal.', { cause: signal.reason, context });
}
