import { WalrusError } from '../../errors/index.js';
import {
  advanceKeyTo, aggregate as aggregateInto, fromField, fromHeader, fromRecordTimestamp, hopping, lateRecordError, tumbling,
  windowedAggregate, type EventTimeExtractor, type WindowSpec,
} from '../../state/index.js';
import { forgetKeyStreamTime } from '../../state/dsl/keyed-windows.js';
import type { ChangeSet } from '../../state/model/change-set.js';
import type { AggregateOp, AggregateSpec } from './aggregate-spec.js';
import { defineProcessor } from '../define.js';
import { NonRetriableError } from '../non-retriable-error.js';
import type { LifecycleContext, ProcessorRecord } from '../types.js';
import { TICK_SOURCE } from '../stream-time-tick.js';

/**
 * The built-in processor behind `aggregate:` steps in the topology
 * (docs/state.md, "Declarative aggregations in the topology"). Its `config`
 * is the step's normalised `AggregateSpec`; it runs in the worker pool like
 * any processor, in key ordering, on state store `spec.store` through the
 * state DSL: `aggregate` for a running figure per key, `windowedAggregate`
 * (stream time per key) for windows, and `advanceKeyTo` for the stream-time
 * ticks the coordinator sends a quiet key (src/runtime/state/stream-time.ts), so
 * windows close on the stream time of the whole step. Nothing user-supplied is evaluated:
 * the op is one of a fixed set and the field a dotted path read with own
 * properties only.
 */

export { TICK_SOURCE } from '../stream-time-tick.js';

/** What is kept in the store per key (running) or per window (`key@<start>`). */
export interface AggregateState {
  /** Records aggregated. */
  count: number;
  /** The op's current result (for `avg`, `sum / count`); null before the first record. */
  value: unknown;
  /** `avg` only: the running sum. */
  sum?: number;
}

/** One result, as written to the step's `default` output (JSON). */
export interface AggregateResult {
  key: string;
  op: AggregateOp;
  /** The field read; null for `count`. */
  field: string | null;
  /** The op's result: the count, sum, minimum, maximum, average, first or last value. */
  value: unknown;
  /** Records aggregated into `value`. */
  count: number;
  /** The window, ISO-8601, `end` exclusive; null for a running aggregate. */
  window: { start: string; end: string } | null;
  /** True when the window closed: this is its last result. Always false for a running aggregate. */
  final: boolean;
}

interface Plan {
  spec: AggregateSpec;
  /** Reads the op's input from a record value (undefined for count); throws NonRetriableError when it cannot. */
  read: (value: unknown, record: ProcessorRecord) => unknown;
  add: (state: AggregateState, x: unknown) => AggregateState;
  windows?: WindowSpec;
  eventTime?: EventTimeExtractor<unknown>;
}

const OPS: readonly AggregateOp[] = ['count', 'sum', 'min', 'max', 'avg', 'first', 'last'];
const NUMERIC = new Set<AggregateOp>(['sum', 'min', 'max', 'avg']);

function invalid(processor: string, what: string): WalrusError {
  return new WalrusError('CONFIG_INVALID', `aggregate step "${processor}": ${what} (the topology's aggregate: block is validated by loadTopology; this config did not come from it)`, {
    context: { processor },
  });
}

/** Own-property walk of a dotted path: `__proto__` and inherited members never resolve. */
function readPath(value: unknown, parts: readonly string[]): unknown {
  let node = value;
  for (const part of parts) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function adder(op: AggregateOp): Plan['add'] {
  switch (op) {
    case 'count': return (s) => ({ count: s.count + 1, value: s.count + 1 });
    case 'sum': return (s, x) => ({ count: s.count + 1, value: (s.count === 0 ? 0 : (s.value as number)) + (x as number) });
    case 'min': return (s, x) => ({ count: s.count + 1, value: s.count === 0 ? x : Math.min(s.value as number, x as number) });
    case 'max': return (s, x) => ({ count: s.count + 1, value: s.count === 0 ? x : Math.max(s.value as number, x as number) });
    case 'avg': return (s, x) => {
      const sum = (s.sum ?? 0) + (x as number);
      return { count: s.count + 1, sum, value: sum / (s.count + 1) };
    };
    case 'first': return (s, x) => ({ count: s.count + 1, value: s.count === 0 ? x : s.value });
    case 'last': return (s, x) => ({ count: s.count + 1, value: x });
  }
}

/** Checks the config (defensively: it is normally the validated topology's) and prepares the step. */
export function compileAggregate(processor: string, config: unknown): Plan {
  const spec = config as AggregateSpec;
  if (typeof spec !== 'object' || spec === null) throw invalid(processor, 'config is not an aggregate spec');
  if (!OPS.includes(spec.op)) throw invalid(processor, `unknown op ${JSON.stringify(spec.op)}; expected one of ${OPS.join(', ')}`);
  if (typeof spec.store !== 'string' || spec.store === '') throw invalid(processor, 'store is missing');
  if (spec.op !== 'count' && (typeof spec.field !== 'string' || spec.field === '')) throw invalid(processor, `op "${spec.op}" needs a field`);
  if (spec.emit !== 'close' && spec.emit !== 'update') throw invalid(processor, `emit must be close or update, got ${JSON.stringify(spec.emit)}`);
  if (spec.emit === 'close' && spec.window == null) throw invalid(processor, 'emit: close needs a window');

  const parts = spec.op === 'count' ? [] : spec.field!.split('.');
  const field = spec.field;
  const read: Plan['read'] = spec.op === 'count' ? () => undefined : (value, record) => {
    const x = readPath(value, parts);
    if (NUMERIC.has(spec.op) ? typeof x !== 'number' || !Number.isFinite(x) : x === undefined) {
      const expected = NUMERIC.has(spec.op) ? 'a finite number' : 'a value';
      throw new NonRetriableError(
        `aggregate step "${processor}" (${spec.op} of "${field}"): record ${record.id} of key "${record.key ?? ''}" has ${x === undefined ? `no field "${field}"` : `${JSON.stringify(x)} in field "${field}"`}; expected ${expected}`,
        { context: { processor, field, key: record.key } },
      );
    }
    return x;
  };
  const plan: Plan = { spec, read, add: adder(spec.op) };
  const w = spec.window;
  if (w != null) {
    try {
      plan.windows = w.kind === 'hopping' ? hopping(w.size, w.advance) : tumbling(w.size);
    } catch (error) {
      throw invalid(processor, (error as Error).message);
    }
    if (!Number.isSafeInteger(w.grace) || w.grace < 0) throw invalid(processor, `grace must be a whole number of ms >= 0, got ${String(w.grace)}`);
    if (w.maxAhead != null && (!Number.isSafeInteger(w.maxAhead) || w.maxAhead < 0)) throw invalid(processor, `maxAhead must be a whole number of ms >= 0, got ${String(w.maxAhead)}`);
    const time = w.time;
    plan.eventTime = time === 'record' ? fromRecordTimestamp()
      : typeof time === 'object' && time !== null && typeof (time as { field?: unknown }).field === 'string' ? fromField((time as { field: string }).field)
      : typeof time === 'object' && time !== null && typeof (time as { header?: unknown }).header === 'string' ? fromHeader((time as { header: string }).header)
      : (() => { throw invalid(processor, `time must be "record", { field } or { header }, got ${JSON.stringify(time)}`); })();
  }
  const late = spec.late;
  if (!(late === 'dlq' || late === 'drop' || (typeof late === 'object' && late !== null && typeof late.output === 'string'))) {
    throw invalid(processor, `late must be dlq, drop or { output }, got ${JSON.stringify(late)}`);
  }
  return plan;
}

const plans = new Map<string, { config: unknown; plan: Plan }>();

function planFor(ctx: { processor: string; config: unknown }): Plan {
  const cached = plans.get(ctx.processor);
  if (cached !== undefined && cached.config === ctx.config) return cached.plan;
  const plan = compileAggregate(ctx.processor, ctx.config);
  plans.set(ctx.processor, { config: ctx.config, plan });
  return plan;
}

/** Late records a windowed step dropped or sent to its late output (label `late`: drop | output); dead-lettered ones are counted as dead letters. */
export const LATE_METRIC = 'aggregate_late_records';

const iso = (ms: number): string => new Date(ms).toISOString();
const init = (): AggregateState => ({ count: 0, value: null });
/** How far behind the step's stream time a key's own may fall before it is dropped (a key with no window left): a window's size + grace. */
const retention = (spec: AggregateSpec): number => spec.window!.size + spec.window!.grace;

function result(spec: AggregateSpec, key: string, state: AggregateState, window: { start: number; end: number } | null, final: boolean): AggregateResult {
  return {
    key, op: spec.op, field: spec.field, value: state.value, count: state.count,
    window: window === null ? null : { start: iso(window.start), end: iso(window.end) }, final,
  };
}

export default defineProcessor<unknown, unknown>({
  init(ctx: LifecycleContext) {
    // A bad config fails `run` at start (PROCESSOR_LOAD_FAILED), never mid-stream.
    planFor(ctx);
  },
  process(record, ctx) {
    const plan = planFor(ctx);
    const { spec } = plan;
    const key = record.key;
    if (typeof key !== 'string' || key === '') {
      throw new NonRetriableError(
        `aggregate step "${ctx.processor}": record ${record.id} has no key; aggregates are kept per record key — give records a key upstream, e.g. in a processor before this step: ctx.emit('default', value, { key: value.customerId })`,
        { context: { processor: ctx.processor } },
      );
    }
    if (record.source === TICK_SOURCE) {
      // A tick: move the key's stream time to the step's and emit (final) what that closes; nothing else.
      // Or, for a key with no window left whose stream time is size + grace behind the step's, drop that stream time.
      if (plan.windows === undefined || typeof record.value !== 'number') return undefined;
      const state = ctx.state(spec.store);
      if (forgetKeyStreamTime(state, key, record.value, retention(spec))) return undefined;
      const { closed } = advanceKeyTo<AggregateState>(state, key, record.value, { windows: plan.windows, graceMs: spec.window!.grace });
      return closed.map((w) => result(spec, key, w.value, w, true));
    }
    const x = plan.read(record.value, record);
    const state = ctx.state(spec.store);
    if (plan.windows === undefined) {
      const next = aggregateInto(state, key, x, init, (s: AggregateState, v) => plan.add(s, v));
      return [result(spec, key, next, null, false)];
    }
    const grace = spec.window!.grace;
    // A key without a stream time of its own starts size + grace behind the step's (see forgetKeyStreamTime).
    const stepTime = (state as ChangeSet).stepStreamTime;
    const step = windowedAggregate(state, record, {
      windows: plan.windows, graceMs: grace, eventTime: plan.eventTime!,
      init, aggregate: (s: AggregateState) => plan.add(s, x),
      newKeyStreamTime: stepTime === undefined ? undefined : stepTime - retention(spec),
      maxAheadMs: spec.window!.maxAhead ?? undefined,
    });
    if (step.late) {
      if (spec.late === 'dlq') throw lateRecordError(record, step.eventTime, step.streamTime, grace);
      // Counted: without it a dropped late record was only one more of the step's `dropped` (records without a result).
      ctx.metrics.increment(LATE_METRIC, 1, { late: spec.late === 'drop' ? 'drop' : 'output' });
      if (spec.late !== 'drop') ctx.emit(spec.late.output, record.value);
      return undefined;
    }
    const out = step.closed.map((w) => result(spec, key, w.value, w, true));
    if (spec.emit === 'update') for (const w of step.updates) out.push(result(spec, key, w.value, w, false));
    return out;
  },
});
