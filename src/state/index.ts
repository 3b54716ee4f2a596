export { KeyValueStore, type KeyValueStoreOptions, type PreparedWrites, type StoreStats } from './store/key-value-store.js';
export { StagedChange } from './model/staged-change.js';
export { ChangeSet, type StateReader, type StateStoreView, type WireWrites } from './model/change-set.js';
export type { RangeOptions, StateEntry } from './model/range.js';
export { storeDir, STORE_FILES } from './store/paths.js';
export { MAX_KEY_BYTES, MAX_VALUE_BYTES } from './model/codec.js';
export { APP_NAME_PATTERN, STORE_NAME_PATTERN, SCOPE_SEPARATOR } from './model/names.js';
export { changelogTopic, encodeChangelogEntries, decodeChangelogEntry, CHANGELOG_PREFIX, MAX_CHANGELOG_ENTRY_CHARS } from './changelog/changelog-codec.js';
export type { ChangelogOptions } from './changelog/changelog-publisher.js';
export type { ChangelogFetch, LeasedChangelogBatch, RestoreProgress, RestoreReport } from './changelog/restore.js';
export { count, reduce, aggregate } from './dsl/aggregations.js';
export { KeyedAggregation, type KeyedAggregationOptions, type KeyedStep } from './dsl/keyed-aggregation.js';
export { tumbling, hopping, windowsFor, windowKey, parseWindowKey, type WindowSpec, type TimeWindow } from './dsl/windows.js';
export { fromField, fromHeader, fromRecordTimestamp, type EventTimeExtractor, type TimedRecord } from './dsl/event-time.js';
export {
  WindowedAggregation, STREAM_TIME_KEY,
  type WindowedAggregationOptions, type WindowResult, type WindowStep,
} from './dsl/windowed-aggregation.js';
export { PreloadedState, WorkerStateContext, type StatePreload, type StateWrites } from './worker/worker-state.js';
export { inspectStore, listStores, type StoreInspection } from './inspect/inspect.js';
export { PartitionedStore } from './store/partitioned-store.js';
export { inspectPartitionedStore, localPartitions, heldPartitions, type PartitionedInspection } from './inspect/inspect-partitions.js';
export { partitionStoreDir } from './store/paths.js';
export { routeWindowStep, type WindowRouting, type WindowAction } from './dsl/window-outputs.js';
export { windowedAggregate, advanceKeyTo, lateRecordError, keyStreamTimeKey, type KeyedWindowOptions, type KeyedWindowStep, type AdvanceKeyOptions, type KeyAdvance } from './dsl/keyed-windows.js';
