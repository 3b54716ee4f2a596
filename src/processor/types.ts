import type { Logger } from 'pino';
import type { StateStoreView } from '../state/model/change-set.js';

/**
 * One record as a processor sees it. `value` is already deserialized with the
 * source's serializer (or is the value an upstream processor emitted).
 */
export interface ProcessorRecord<T = unknown> {
  /** Stable record id (from the envelope, or derived for plain-text entries and outputs). */
  readonly id: string;
  /** Partitioning key; `key` ordering serialises records that share it. */
  readonly key?: string;
  readonly value: T;
  readonly headers: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch when the record was produced. */
  readonly timestamp: number;
  /** Where it came from: a source name, or `processor.output` for chained processors. */
  readonly source: string;
}

/** Options of {@link ProcessorContext.emit}. */
export interface EmitOptions {
  /** @default the input record's key */
  key?: string;
  /** Merged over the input record's headers. @default {} */
  headers?: Record<string, string>;
}

/**
 * Processor-defined metrics, aggregated by the coordinator across workers
 * into its Prometheus registry (names must not start with `walrus_stream_`).
 * Every series also gets a `processor` label.
 */
export interface ProcessorMetrics {
  /** Adds `by` (default 1) to a counter named `name`, optionally with labels. */
  increment(name: string, by?: number, labels?: Record<string, string>): void;
  /** Records one observation (e.g. a duration in ms) in a summary named `name` (`_sum` and `_count`). */
  observe(name: string, value: number, labels?: Record<string, string>): void;
}

/**
 * The type of a processor's `config` block when its definition does not say
 * (the third type parameter of `defineProcessor`). The topology's YAML is not
 * checked against a declared type: the parameter states what the processor
 * expects; validate what it cannot trust.
 */
export type ProcessorConfig = Readonly<Record<string, unknown>>;

/** Type-only key of {@link Outputs}: no value exists at run time. */
declare const OUTPUT_TYPES: unique symbol;

/**
 * Per-output value types, given as `defineProcessor`'s second type
 * parameter: `defineProcessor<In, Outputs<{ accepted: Order; review: Review }>>`.
 * `ctx.emit(name, value)` then takes only those names, each with its own
 * type, and `process` may return a value only when a `default` output is
 * listed (of that output's type). A plain second parameter (`Out`) keeps its
 * meaning: every output takes `Out`. Exists only as a type.
 */
export interface Outputs<Ports extends Record<string, unknown>> {
  readonly [OUTPUT_TYPES]: Ports;
}

/** The port map of `Out` when it is `Outputs<...>`, else `undefined` (`any` counts as plain). */
type PortsOf<Out> = 0 extends 1 & Out ? undefined : [Out] extends [Outputs<infer Ports>] ? Ports : undefined;

/** The output names `ctx.emit` accepts: the declared ones, or any string for a plain `Out`. */
export type OutputName<Out> = [PortsOf<Out>] extends [undefined] ? string : keyof PortsOf<Out> & string;

/** The value type of output `Name`: its declared type, or `Out` itself for a plain `Out`. */
export type OutputValue<Out, Name extends string = string> = [PortsOf<Out>] extends [undefined] ? Out
  : Name extends keyof PortsOf<Out> ? PortsOf<Out>[Name] : never;

/** What a processor gets with each record. */
export interface ProcessorContext<Out = unknown, Config = ProcessorConfig> {
  /** pino child logger bound to the processor name and the record id. */
  readonly logger: Logger;
  /** The processor's `config` block from the topology (frozen). */
  readonly config: Readonly<Config>;
  /** Name of the processor in the topology. */
  readonly processor: string;
  /** 1 on the first try, 2 on the first retry, ... */
  readonly attempt: number;
  /** Fires when the per-record timeout elapses or the pipeline shuts down. */
  readonly signal: AbortSignal;
  readonly metrics: ProcessorMetrics;
  /**
   * Sends `value` to the named output (one of the processor's `outputs`).
   * Emits are kept only if this attempt succeeds: a throw discards them.
   * With `Outputs<{ ... }>` as the processor's `Out`, `value` must have the
   * type declared for `output`.
   */
  emit<Name extends OutputName<Out>>(output: Name, value: OutputValue<Out, Name>, options?: EmitOptions): void;
  /**
   * The record key's view of state store `name` (declared in the topology
   * under the processor's `stores`; the processor runs in `ordering: key`).
   * Only the record's key and keys starting with `key@` may be touched. The
   * writes become visible and durable only if this attempt succeeds, and are
   * committed together with the record's release (docs/state.md).
   */
  state(name: string): StateStoreView;
}

/** Context of `init` and `close`: no record, no attempt. */
export interface LifecycleContext<Config = ProcessorConfig> {
  readonly logger: Logger;
  readonly config: Readonly<Config>;
  readonly processor: string;
  readonly metrics: ProcessorMetrics;
}

/**
 * What `process` may return: nothing (drop the record, or everything went
 * through `emit`), one value (sent to the `default` output) or an array of
 * values (each sent to `default`). To emit one array value, use `ctx.emit`.
 * With `Outputs<{ ... }>`, the values are of the `default` output's type
 * (none may be returned when no `default` output is declared).
 */
export type ProcessResult<Out> = OutputValue<Out, 'default'> | OutputValue<Out, 'default'>[] | undefined | void;

/** The object passed to `defineProcessor`. */
export interface ProcessorDefinition<In = unknown, Out = unknown, Config = ProcessorConfig> {
  /** Called once per worker before the first record (open clients, load tables). */
  init?(ctx: LifecycleContext<Config>): void | Promise<void>;
  /** Handles one record. Throw to retry; throw `NonRetriableError` to dead-letter at once. */
  process(record: ProcessorRecord<In>, ctx: ProcessorContext<Out, Config>): ProcessResult<Out> | Promise<ProcessResult<Out>>;
  /** Called once per worker at shutdown. */
  close?(ctx: LifecycleContext<Config>): void | Promise<void>;
}
