/**
 * `walrus-stream/processor`: what a processor module needs, and nothing that
 * starts or connects anything — the processor SDK, the state DSL and the
 * error classes. A processor module is imported in every worker thread (and
 * by `validate`'s check thread); importing this entry instead of the package
 * entry loads a few small modules instead of the whole library (client,
 * node, journal, test driver), which is most of a thread's start-up.
 * Everything here is also exported by `walrus-stream` itself.
 *
 * @example
 * import { defineProcessor, NonRetriableError, windowedAggregate, tumbling } from 'walrus-stream/processor';
 * @module
 */
export {
  defineProcessor, isProcessor, NonRetriableError, PROCESSOR_BRAND,
  type Processor, type ProcessorDefinition, type ProcessorRecord, type ProcessorContext, type LifecycleContext, type ProcessorConfig,
  type ProcessorMetrics, type ProcessResult, type EmitOptions, type Outputs, type OutputName, type OutputValue,
} from './index.js';
export { count, reduce, aggregate } from '../state/dsl/aggregations.js';
export { KeyedAggregation, type KeyedAggregationOptions, type KeyedStep } from '../state/dsl/keyed-aggregation.js';
export { tumbling, hopping, windowsFor, windowKey, parseWindowKey, type WindowSpec, type TimeWindow } from '../state/dsl/windows.js';
export { fromField, fromHeader, fromRecordTimestamp, type EventTimeExtractor, type TimedRecord } from '../state/dsl/event-time.js';
export { WindowedAggregation, STREAM_TIME_KEY, type WindowedAggregationOptions, type WindowResult, type WindowStep } from '../state/dsl/windowed-aggregation.js';
export { routeWindowStep, type WindowRouting, type WindowAction } from '../state/dsl/window-outputs.js';
export {
  windowedAggregate, advanceKeyTo, lateRecordError, keyStreamTimeKey,
  type KeyedWindowOptions, type KeyedWindowStep, type AdvanceKeyOptions, type KeyAdvance,
} from '../state/dsl/keyed-windows.js';
export type { StateReader, StateStoreView } from '../state/model/change-set.js';
export type { RangeOptions, StateEntry } from '../state/model/range.js';
export { WalrusError, ERROR_CODES, isRetriable, serializeError, deserializeError, type ErrorCode, type SerializedError } from '../errors/index.js';
