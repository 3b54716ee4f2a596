/**
 * Span names and attribute keys, in one place (like BullMQ's
 * `TelemetryAttributes`). Dashboards and trace queries key on these strings,
 * so treat a rename as a breaking change.
 */

/** The three spans a record goes through in a pipeline. */
export const SPAN_NAMES = {
  /** Reading entries from a source topic (one span per fetch). */
  fetch: 'walrus.fetch',
  /** A processor handling one record (or one batch). */
  process: 'walrus.process',
  /** Writing records to a sink or dead-letter topic. */
  produce: 'walrus.produce',
} as const;

export type SpanName = (typeof SPAN_NAMES)[keyof typeof SPAN_NAMES];

/** Attribute keys; all walrus-specific ones live under `walrus.`. */
export const SPAN_ATTRIBUTES = {
  APP: 'walrus.app',
  SOURCE: 'walrus.source',
  SINK: 'walrus.sink',
  TOPIC: 'walrus.topic',
  NODE: 'walrus.node',
  PROCESSOR: 'walrus.processor',
  OUTPUT: 'walrus.output',
  RECORD_ID: 'walrus.record.id',
  CORRELATION_ID: 'walrus.correlation_id',
  BATCH_SIZE: 'walrus.batch.size',
  ATTEMPT: 'walrus.attempt',
  WORKER_ID: 'walrus.worker.id',
  DEAD_LETTER: 'walrus.dead_letter',
  ERROR_CODE: 'walrus.error.code',
  /** OpenTelemetry messaging convention, so generic tooling recognises the system. */
  MESSAGING_SYSTEM: 'messaging.system',
} as const;

/** The W3C trace-context header names carried in envelope headers. */
export const TRACEPARENT_HEADER = 'traceparent';
export const TRACESTATE_HEADER = 'tracestate';

/** Values accepted for span attributes: what callers may pass to the span helpers. */
export interface WalrusSpanAttributes {
  'walrus.app'?: string;
  'walrus.source'?: string;
  'walrus.sink'?: string;
  'walrus.topic'?: string;
  'walrus.node'?: string;
  'walrus.processor'?: string;
  'walrus.output'?: string;
  'walrus.record.id'?: string;
  'walrus.correlation_id'?: string;
  'walrus.batch.size'?: number;
  'walrus.attempt'?: number;
  'walrus.worker.id'?: string | number;
  'walrus.dead_letter'?: boolean;
  'walrus.error.code'?: string;
}
