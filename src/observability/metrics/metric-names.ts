/**
 * Every built-in metric walrus-stream exposes, in one place: name, help text,
 * type, label names and (for histograms) bucket bounds.
 *
 * Names follow `walrus_stream_<noun>_<unit>` where the unit is one of
 * {@link METRIC_UNITS}; test/observability/metric-names.test.ts checks every
 * entry. Changing a name here is a breaking change for dashboards, so add new
 * series rather than renaming old ones.
 */

/** The unit suffixes a metric name may end with. `total` marks a counter. */
export const METRIC_UNITS = [
  'total', 'seconds', 'bytes', 'ratio', 'records', 'connections', 'threads', 'entries', 'segments', 'state',
] as const;

/** The prefix of every walrus-stream metric; processor-defined metrics may not use it. */
export const METRIC_PREFIX = 'walrus_stream_';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labels: readonly string[];
  /** Histogram upper bounds (the `+Inf` bucket is implicit). */
  readonly buckets?: readonly number[];
}

/** Latency buckets in seconds: 100 µs to 30 s, roughly ×2.5 apart. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** End-to-end latency includes time spent waiting in the source topic, so it reaches further. */
const E2E_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
/** Compressed size / original size. */
const RATIO_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
/** Records in one task: from a record alone to full batches. */
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];

function spec(name: string, type: MetricType, help: string, labels: readonly string[], buckets?: readonly number[]): MetricSpec {
  return buckets === undefined ? { name, type, help, labels } : { name, type, help, labels, buckets };
}

/** The built-in series. Keys are what the code uses; values are what Prometheus sees. */
export const METRICS = {
  // -- records through the pipeline -------------------------------------------
  recordsFetched: spec('walrus_stream_records_fetched_total', 'counter', 'Records read from a source topic.', ['source']),
  fetchedBytes: spec('walrus_stream_fetched_bytes_total', 'counter', 'Entry bytes read from a source topic.', ['source']),
  recordsProcessed: spec('walrus_stream_records_processed_total', 'counter', 'Records a processor finished, by outcome (ok, error, timeout).', ['processor', 'outcome']),
  recordsEmitted: spec('walrus_stream_records_emitted_total', 'counter', 'Records written to a sink topic and acknowledged by the node.', ['sink']),
  emittedBytes: spec('walrus_stream_emitted_bytes_total', 'counter', 'Entry bytes written to a sink topic.', ['sink']),
  recordsRetried: spec('walrus_stream_records_retried_total', 'counter', 'Processing attempts scheduled again after a retriable failure.', ['processor']),
  recordsDeadLettered: spec('walrus_stream_records_dead_lettered_total', 'counter', 'Records sent to a dead-letter topic.', ['processor']),
  processingDuration: spec('walrus_stream_processing_duration_seconds', 'histogram', 'Time a processor spent on one record.', ['processor'], LATENCY_BUCKETS),
  endToEndLatency: spec('walrus_stream_end_to_end_latency_seconds', 'histogram', 'From the record timestamp to the acknowledgement of its output by a sink.', ['sink'], E2E_BUCKETS),
  queueWait: spec('walrus_stream_queue_wait_seconds', 'histogram', 'Time a record waited between fetch and the start of processing.', ['processor'], LATENCY_BUCKETS),
  batchRecords: spec('walrus_stream_batch_records', 'histogram', 'Records in one task sent to a worker, by stage group (its first processor).', ['group'], BATCH_BUCKETS),
  inFlight: spec('walrus_stream_in_flight_records', 'gauge', 'Records fetched and not yet released (acknowledged or dead-lettered).', []),
  sinkBacklog: spec('walrus_stream_sink_backlog_records', 'gauge', 'Sink records accepted and not yet acknowledged by the node.', []),
  groupWaiting: spec('walrus_stream_stage_group_waiting_state', 'gauge', 'Whether a stage group holds back its batches because what it feeds is full (backpressure): 1 yes, 0 no.', ['group']),
  sourceLag: spec('walrus_stream_source_lag_entries', 'gauge', 'Entries in a source topic not yet read, where the node reports it.', ['source']),
  sourcePartitionLag: spec('walrus_stream_source_partition_lag_entries', 'gauge', 'Entries in one partition topic of a partitioned source not yet read, where the node reports it.', ['source', 'partition']),
  errors: spec('walrus_stream_errors_total', 'counter', 'Errors by component and WalrusError code.', ['component', 'code']),
  metricUpdatesDropped: spec('walrus_stream_metric_updates_dropped_total', 'counter', 'Updates of a processor metric dropped because it reached its label-set limit in a worker thread.', ['metric']),

  // -- worker pool ----------------------------------------------------------------
  workerThreads: spec('walrus_stream_worker_threads', 'gauge', 'Worker threads currently running.', []),
  workerUtilization: spec('walrus_stream_worker_utilization_ratio', 'gauge', 'Share of time the worker threads spent running tasks over the last one to two seconds (0..1).', []),
  workerReplacements: spec('walrus_stream_worker_replacements_total', 'counter', 'Worker threads that died and were replaced.', []),

  // -- client ---------------------------------------------------------------------
  clientRequests: spec('walrus_stream_client_requests_total', 'counter', 'Requests sent to Walrus nodes, by command, node and outcome (ok, abandoned, or the error code).', ['command', 'node', 'outcome']),
  clientRequestDuration: spec('walrus_stream_client_request_duration_seconds', 'histogram', 'Round-trip time of one request.', ['command', 'node'], LATENCY_BUCKETS),
  clientSentBytes: spec('walrus_stream_client_sent_bytes_total', 'counter', 'Frame bytes written to a node.', ['node']),
  clientReceivedBytes: spec('walrus_stream_client_received_bytes_total', 'counter', 'Frame bytes read from a node.', ['node']),
  clientRetries: spec('walrus_stream_client_retries_total', 'counter', 'Calls retried by the client retry policy, by client operation (put, get, ...).', ['command']),
  poolConnections: spec('walrus_stream_pool_connections', 'gauge', 'Pooled connections to a node, by state (idle, busy, pending).', ['node', 'state']),
  connectionFailures: spec('walrus_stream_connection_failures_total', 'counter', 'TCP connection attempts to a node that failed.', ['node']),
  breakerState: spec('walrus_stream_breaker_state', 'gauge', 'Circuit breaker of a node: 0 closed, 1 half-open, 2 open.', ['node']),
  compressionRatio: spec('walrus_stream_compression_ratio', 'histogram', 'Compressed size divided by original size, per compressed entry.', ['sink'], RATIO_BUCKETS),

  // -- journal ---------------------------------------------------------------------
  journalSize: spec('walrus_stream_journal_size_bytes', 'gauge', 'Bytes held by the local journal.', []),
  journalUnreleased: spec('walrus_stream_journal_unreleased_records', 'gauge', 'Journal entries not yet released.', []),
  journalSegments: spec('walrus_stream_journal_segments', 'gauge', 'Journal segment files on disk.', []),
} as const satisfies Record<string, MetricSpec>;

export type BuiltInMetric = keyof typeof METRICS;

/** How a processor finished a record. */
export type ProcessOutcome = 'ok' | 'error' | 'timeout';

/** Circuit breaker states as gauge values. */
export const BREAKER_STATE_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;
export type BreakerState = keyof typeof BREAKER_STATE_VALUE;

/** Pool gauge states. */
export type PoolConnectionState = 'idle' | 'busy' | 'pending';

/** A valid Prometheus metric name (letters, digits, underscores, colons; not starting with a digit). */
export const PROMETHEUS_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** A valid Prometheus label name. `__` prefixes are reserved by Prometheus. */
export const PROMETHEUS_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** True when `name` follows `walrus_stream_<noun>_<unit>`. */
export function followsNamingConvention(name: string): boolean {
  if (!name.startsWith(METRIC_PREFIX) || !PROMETHEUS_NAME.test(name)) return false;
  const rest = name.slice(METRIC_PREFIX.length);
  return METRIC_UNITS.some((unit) => rest.endsWith(`_${unit}`) && rest.length > unit.length + 1 && /^[a-z][a-z0-9_]*$/.test(rest));
}
