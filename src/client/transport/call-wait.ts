import { WalrusError } from '../../errors/index.js';
import { onAbort } from '../../util/abort.js';
import { abortError } from '../../util/sleep.js';

/** What a call may bound its waits with: its own signal and timeoutMs (CallOptions). */
export interface CallBounds {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/** Who waits, for what: named in the error when the wait is given up. */
export interface WaitLabel {
  node: string;
  command: string;
  topic?: string | undefined;
  /** What was awaited: "a connection", "the capability probe". */
  what: string;
}

/**
 * Waits for `work` — shared work the caller did not start alone and must
 * not cancel (a connection being opened and logged in, the capability
 * probe, a free pipeline slot) — only as long as the caller's `signal` and
 * `timeoutMs` allow.
 *
 * Why: those waits are otherwise bounded only by `connectTimeoutMs` and
 * `requestTimeoutMs` (the AUTH or probe request), so against a node that
 * accepts connections but does not answer, a call aborted after 50 ms, or
 * given `timeoutMs: 100`, still waited the full `requestTimeoutMs` and then
 * failed with REQUEST_TIMEOUT instead of ABORTED.
 *
 * Given up: ABORTED, or REQUEST_TIMEOUT with `givenUp: true`; both with
 * `requestSent: false` (the call's own request was never sent, so another
 * node may take it). A value that arrives after the caller gave up goes to
 * `onLate` (e.g. to give a pool lease back), an error to `onLateError`.
 */
export function waitForCall<T>(work: Promise<T>, call: CallBounds, label: WaitLabel, onLate?: (value: T) => void, onLateError?: (error: unknown) => void): Promise<T> {
  const { signal, timeoutMs } = call;
  if (signal === undefined && timeoutMs === undefined) return work;
  const context = { node: label.node, command: label.command, ...(label.topic === undefined ? {} : { topic: label.topic }), requestSent: false };
  if (signal?.aborted) {
    work.then((value) => onLate?.(value), (error: unknown) => onLateError?.(error));
    return Promise.reject(abortError(signal, context));
  }
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let offAbort: (() => void) | undefined;
    const giveUp = (error: WalrusError): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      offAbort?.();
      reject(error);
    };
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => giveUp(new WalrusError('REQUEST_TIMEOUT',
        `${label.command} to node ${label.node} was given up after its timeoutMs (${timeoutMs} ms) while it waited for ${label.what}; the request was not sent.`,
        { context: { ...context, givenUp: true, timeoutMs } })), timeoutMs);
      // The work itself (a socket, a request) keeps the process alive while it matters.
      timer.unref();
    }
    if (signal) offAbort = onAbort(signal, () => giveUp(abortError(signal, context)));
    work.then((value) => {
      if (done) {
        onLate?.(value);
        return;
      }
      done = true;
      if (timer) clearTimeout(timer);
      offAbort?.();
      resolve(value);
    }, (error: unknown) => {
      if (done) {
        onLateError?.(error);
        return;
      }
      done = true;
      if (timer) clearTimeout(timer);
      offAbort?.();
      reject(error);
    });
  });
}
