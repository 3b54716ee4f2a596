import { WalrusError } from '../../errors/index.js';

/** Longest per-call timeout: one day, the bound of the client's timeout options (and far below `setTimeout`'s 2^31 ms). */
export const MAX_CALL_TIMEOUT_MS = 86_400_000;

/** Per-call options. */
export interface CallOptions {
  /** Aborts the call (ABORTED, not retried). An aborted GET whose reply still comes drops the entry: see docs/client.md. */
  signal?: AbortSignal;
  /**
   * Overrides `requestTimeoutMs` for this call's requests: milliseconds, above 0 and at most one day.
   * A shorter one gives up on this call alone (REQUEST_TIMEOUT); the connection and the calls sharing it go on.
   */
  timeoutMs?: number;
}

/**
 * The INVALID_ARGUMENT error for one bad argument of `call` (`put(orders)`,
 * `claim(orders.p1)`): which argument, what it must be, what it was.
 */
export function invalidArgument(call: string, argument: string, expected: string, value: unknown, topic?: string): WalrusError {
  return new WalrusError('INVALID_ARGUMENT', `${call}: ${argument} must be ${expected}, got ${describe(value)}. Nothing was sent.`, {
    context: topic === undefined ? { argument } : { topic, argument },
  });
}

/**
 * Checks per-call options before anything is sent: `signal` an
 * AbortSignal, `timeoutMs` a number of milliseconds above 0 and at most a
 * day. Why strict: a NaN or infinite timeout arms no timer (the call could
 * wait forever on a stalled node), and 0 or less would time out at once and
 * retire the connection, failing every other request in flight on it.
 */
export function callOptionsError(options: unknown, call: string, topic?: string): WalrusError | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) return invalidArgument(call, 'options', 'an object { signal?, timeoutMs? }', options, topic);
  const { signal, timeoutMs } = options as CallOptions;
  if (signal !== undefined && !isAbortSignal(signal)) return invalidArgument(call, 'options.signal', 'an AbortSignal', signal, topic);
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs <= MAX_CALL_TIMEOUT_MS)) {
    return invalidArgument(call, 'options.timeoutMs', `a number of milliseconds above 0 and at most ${MAX_CALL_TIMEOUT_MS} (leave it out to use requestTimeoutMs)`, timeoutMs, topic);
  }
  return undefined;
}

/** Throws {@link callOptionsError}'s error, if any. */
export function assertCallOptions(options: unknown, call: string, topic?: string): asserts options is CallOptions | undefined {
  const error = callOptionsError(options, call, topic);
  if (error) throw error;
}

function isAbortSignal(value: unknown): value is AbortSignal {
  if (value instanceof AbortSignal) return true;
  // A signal from another realm or a polyfill: what the client uses of it.
  const v = value as Partial<AbortSignal> | null;
  return typeof v === 'object' && v !== null && typeof v.aborted === 'boolean' && typeof v.addEventListener === 'function' && typeof v.removeEventListener === 'function';
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value !== 'object') return `a ${typeof value}`;
  return Array.isArray(value) ? 'an array' : `an object (${(value as object).constructor?.name ?? 'no prototype'})`;
}
