/**
 * Observability for walrus-stream: metrics (one registry in the coordinator,
 * exact across worker threads), the /metrics /healthz /readyz server,
 * OpenTelemetry tracing with W3C trace context in record headers, pino logs
 * and the live progress view. See docs/observability.md.
 */
export { METRICS, METRIC_PREFIX, METRIC_UNITS, BREAKER_STATE_VALUE, followsNamingConvention } from './metrics/metric-names.js';
export type { MetricSpec, MetricType, BuiltInMetric, ProcessOutcome, BreakerState, PoolConnectionState } from './metrics/metric-names.js';
export { MetricsHub, type MetricsHubOptions, type ClientRequestReport } from './metrics/metrics-hub.js';
export { fromLabelledSnapshot, type LabelledSnapshot } from './metrics/labelled-snapshot.js';
export type { WorkerSeriesSnapshot, MetricSnapshot, CounterSnapshot, HistogramSnapshot, MergeProblem } from './metrics/worker-snapshot.js';
export { startObservabilityServer, parseHttpAddress } from './http/http-server.js';
export type { ObservabilityServer, ObservabilityServerOptions, MetricsSource } from './http/http-server.js';
export { readinessFromChecks, type ReadyReport, type CheckResult, type ReadinessCheck, type ReadinessOptions } from './http/readiness.js';
export { attachClientMetrics, type ClientStatsSource } from './metrics/client-metrics.js';
export { parsePrometheusText, histogramQuantile, formatPipelineMetrics, type PromSample } from './metrics/metrics-text.js';
export { fetchPipelineStatus, type PipelineStatus } from './http/pipeline-status.js';
export { probeNode, nodesReachableCheck, type ProbeOptions } from './http/node-probe.js';
export { SPAN_NAMES, SPAN_ATTRIBUTES, TRACEPARENT_HEADER, TRACESTATE_HEADER, type SpanName, type WalrusSpanAttributes } from './tracing/span-attributes.js';
export {
  startSpan, injectTraceparent, injectTraceContext, extractTraceContext, recordSpanError, withSpan, getTracer, tracingActive,
  type RecordHeaders, type SpanParent,
} from './tracing/tracing.js';
export { W3CTraceContext, parseTraceparent, formatTraceparent } from './tracing/w3c-propagator.js';
export { createLogger, processorLogger, recordLogger, DEFAULT_REDACT_PATHS, DEFAULT_REDACT_HEADERS, redactHeaderPaths, LOG_LEVELS, type LoggerOptions, type LogLevel } from './logs/logger.js';
export { createProgressReporter, driveProgress, linesAboveProgress, type ProgressReporter, type ProgressReporterOptions, type IntervalTimers } from './progress/progress-reporter.js';
export type { ProgressSnapshot } from './progress/progress-tally.js';
export { createDashboard, type Dashboard, type DashboardOptions } from './dashboard/dashboard.js';
export { DeadLetterRing, type RecentDeadLetter, type DeadLetterTally, type DeadLetterRingOptions, type ParsedDeadLetter } from './dashboard/dead-letter-ring.js';
export { StatsSampler, type StatsFrame, type StatsSources, type StatsSamplerOptions } from './dashboard/stats-sampler.js';
export type { DashboardTopology, DashboardNode, DashboardEdge, DashboardInstance, DashboardPartitioned, ReplayAnswer, StorePage } from './dashboard/dashboard-types.js';
export type { ExtraRoutes, RouteContext } from './http/http-server.js';
export { renderDeadLetterFold, type DeadLetterFoldRow } from './progress/progress-format.js';
