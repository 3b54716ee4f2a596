import type { ProcessorConfig, ProcessorDefinition } from './types.js';

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

/** What `defineProcessor` returns: the definition, branded. */
export type Processor<In = unknown, Out = unknown, Config = ProcessorConfig> = ProcessorDefinition<In, Out, Config> & { readonly [PROCESSOR_BRAND]: true };

/** True when `value` is what `defineProcessor` returns (used by `validate` and the worker loader). */
export function isProcessor(value: unknown): value is ProcessorLike {
  return (
    typeof value === 'object' && value !== null &&
    (value as Record<symbol, unknown>)[PROCESSOR_BRAND] === true &&
    typeof (value as { process?: unknown }).process === 'function'
  );
}

/**
 * Defines a processor. A processor module default-exports the result.
 * The type parameters are the input value, the output value and the shape of
 * the processor's `config` block in the topology (`ctx.config`). For a
 * different type per output, give `Outputs<{ accepted: Order; review: Review }>`
 * as the output type: each `ctx.emit(name, value)` is then checked against `name`'s type.
 *
 * @example
 * export default defineProcessor<Order, Order, { limit: number }>({
 *   process(record, ctx) {
 *     if (record.value.amount > ctx.config.limit) ctx.emit('review', record.value);
 *     else return record.value;
 *   },
 * });
 */
export function defineProcessor<In = unknown, Out = unknown, Config = ProcessorConfig>(
  definition: ProcessorDefinition<In, Out, Config>,
): Processor<In, Out, Config> {
  if (typeof definition !== 'object' || definition === null || typeof definition.process !== 'function') {
    throw new TypeError('defineProcessor: expected an object with a process(record, ctx) function');
  }
  for (const hook of ['init', 'close'] as const) {
    if (definition[hook] !== undefined && typeof definition[hook] !== 'function') {
      throw new TypeError(`defineProcessor: "${hook}" must be a function when given`);
    }
  }
  return Object.freeze({ ...definition, [PROCESSOR_BRAND]: true as const });
}
