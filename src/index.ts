/**
 * walrus-stream: stream processing for Walrus, and a resilient Walrus client.
 *
 * @example
 * import { WalrusClient, Producer, defineProcessor } from 'walrus-stream';
 * @module
 */

// The client: connections, pools, retries, breakers, balancing; producer and consumer.
export {
  WalrusClient, Producer, Consumer,
  type WalrusClientOptions, type CallOptions, type ClientStats, type PoolOptions, type RetryOptions, type BreakerOptions,
  type ProducerOptions, type SendOptions, type LingerOptions, type ConsumerOptions,
} from './client/entry.js';

// Records: the envelope and serializers.
export {
  encodeRecords, decodeEntry, isEnvelope, resolveSerializer, SERIALIZER_NAMES,
  type RecordToEncode, type DecodedRecord, type WalrusRecord, type Serializer, type SerializerName,
} from './codec/index.js';

// What a processor module needs (also its own entry, `walrus-stream/processor`):
// the processor SDK, the state DSL (keyed aggregations and windows over
// ctx.state(...), docs/state.md) and the errors (one class, codes that drive
// retry / breaker / dead-letter decisions).
export * from './processor/sdk.js';

// State stores themselves, read and written from the main thread.
export {
  KeyValueStore, storeDir, changelogTopic, inspectStore, listStores,
  type KeyValueStoreOptions, type StoreInspection,
} from './state/index.js';

// Topologies and the pipeline runtime.
// Entry points that start something (parse a topology, start a pipeline or a
// node) import their machinery on first call: a processor module imports this
// entry in every worker thread, and should load what it uses, not the runtime.
export { loadTopology, loadTopologyText } from './topology/load-entry.js';
export { formatDiagnostic } from './topology/validate/diagnostics.js';
export type { Topology, Diagnostic } from './topology/types.js';
export { startPipeline } from './runtime/start-entry.js';
export type { Pipeline, PipelineOptions } from './runtime/pipeline/pipeline.js';
export type { PipelineSummary } from './runtime/coordinator/pipeline-stats.js';
export { parseDeadLetter, type DeadLetterEntry } from './runtime/coordinator/dead-letter.js';

// Metrics: one registry, exact across worker threads, Prometheus text out (docs/observability.md).
export { MetricsHub, type MetricsHubOptions } from './observability/metrics/metrics-hub.js';

// The embedded node and local durability.
export { startBroker, startBrokerInWorker } from './broker/start-entry.js';
export type { BrokerHandle } from './broker/server.js';
export type { BrokerOptions } from './broker/options.js';
export { Journal, DedupeWindow } from './journal/index.js';

// Testing a topology without a node: the test driver (docs/testing.md).
export { createTestDriver, TestDriver, type TestDriverOptions, type TestInputRecord, type TestOutputRecord, type TestDeadLetter } from './testing/index.js';
