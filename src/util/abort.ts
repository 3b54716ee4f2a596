/**
 * One 'abort' listener per signal, however many waits share it.
 *
 * Why: an application typically passes one AbortSignal (its shutdown
 * signal) to every call. Adding a listener per call makes Node print
 * `MaxListenersExceededWarning: Possible EventTarget memory leak` once
 * more than 10 calls are in flight, although every listener is removed
 * when its call settles. Here the signal carries a single listener that
 * runs the callbacks of the calls still waiting, and is removed with the
 * last of them.
 */
interface Listeners {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const bySignal = new WeakMap<AbortSignal, Listeners>();

/**
 * Runs `callback` once when `signal` aborts; returns a function that stops
 * listening (call it when the wait ends otherwise). The signal must not be
 * aborted yet: check `signal.aborted` first.
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let entry = bySignal.get(signal);
  if (entry === undefined) {
    const callbacks = new Set<() => void>();
    const listener = (): void => {
      bySignal.delete(signal);
      for (const run of callbacks) run();
      callbacks.clear();
    };
    entry = { callbacks, listener };
    bySignal.set(signal, entry);
    signal.addEventListener('abort', listener, { once: true });
  }
  const current = entry;
  current.callbacks.add(callback);
  return () => {
    if (!current.callbacks.delete(callback) || current.callbacks.size > 0 || bySignal.get(signal) !== current) return;
    bySignal.delete(signal);
    signal.removeEventListener('abort', current.listener);
  };
}
