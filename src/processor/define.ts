/**
 * The brand that marks a processor definition. It is a global symbol so a
 * module loaded through another copy of walrus-stream (or in a worker) is
 * still recognised.
 */
export const PROCESSOR_BRAND: unique symbol = Symbol.for('walrus-stream.processor') as never;

/** Minimal shape every processor definition has; the full SDK types live beside this file. */
export interface ProcessorLike {
  readonly [PROCESSOR_BRAND]: true;
  process: (...args: never[]) => unknown;
}

/** True when `value` is what `defineProcessor` returns (used by `validate` and the worker loader). */
export function isProcessor(value: unknown): value is ProcessorLike {
  return (
    typeof value === 'object' && value !== null &&
    (value as Record<symbol, unknown>)[PROCESSOR_BRAND] === true &&
    typeof (value as { process?: unknown }).process === 'function'
  );
}
