import type { Logger } from 'pino';

/*
 * The log fields and redaction list, apart from logger.ts so worker threads
 * can use them without loading pino-pretty.
 */

/** Header paths that may hold secrets; always redacted. Both `headers` and `record.headers` shapes are covered. */
export const DEFAULT_REDACT_PATHS: readonly string[] = [
  'headers.authorization', 'headers.cookie', 'headers["set-cookie"]', 'headers["x-api-key"]', 'headers["proxy-authorization"]',
  '*.headers.authorization', '*.headers.cookie', '*.headers["set-cookie"]', '*.headers["x-api-key"]', '*.headers["proxy-authorization"]',
  // Credentials (cluster.auth, observability.httpAuth) are already hidden from serialisation; this catches copies.
  'password', '*.password', '*.*.password', 'token', '*.token', '*.*.token',
];

// Declared with the other header names in codec (the topology's schema needs it too, and sits below observability).
export { DEFAULT_REDACT_HEADERS } from '../../codec/headers.js';

/** pino redact paths for header `names` (case-insensitive: headers are stored lower-case), in both `headers` and `record.headers` shapes. */
export function redactHeaderPaths(names: readonly string[]): string[] {
  return names.flatMap((name) => {
    const key = JSON.stringify(name.toLowerCase());
    return [`headers[${key}]`, `*.headers[${key}]`];
  });
}

/** A child logger for one processor: every line carries `processor`. */
export function processorLogger(logger: Logger, processor: string): Logger {
  return logger.child({ processor });
}

/** A child logger for one record: every line carries `recordId` and, when known, `correlationId`. */
export function recordLogger(logger: Logger, record: { id: string; headers?: Readonly<Record<string, string>> }): Logger {
  const correlationId = record.headers?.['correlation-id'] ?? record.headers?.['x-correlation-id'];
  return logger.child(correlationId === undefined ? { recordId: record.id } : { recordId: record.id, correlationId });
}
