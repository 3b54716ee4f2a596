import { WalrusError } from '../errors/index.js';

/**
 * Well-known header names. Headers are string → string; these are the ones
 * walrus-stream itself reads or writes. Names are lower case, like HTTP/2.
 */
export const HEADERS = {
  /** Ties the records of one request or workflow together. */
  CORRELATION_ID: 'correlation-id',
  /** W3C Trace Context parent: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`. */
  TRACEPARENT: 'traceparent',
  /** W3C Trace Context vendor state. */
  TRACESTATE: 'tracestate',
  /** MIME type of the value; the serializer's when not set. */
  CONTENT_TYPE: 'content-type',
  /**
   * Internal: where a record written to a repartition topic came from
   * (`<writer> <seq> <low>`, src/runtime/sources/repartition-origin.ts). Set on
   * records of sources that feed a repartition, kept across processors that
   * set their own headers, stripped when the record is read back.
   */
  ORIGIN: 'walrus-origin',
} as const;

/**
 * Sets header `name` on `headers` as an own property, also for `__proto__`
 * (a plain assignment to that name changes the object's prototype, or is
 * dropped). For code that builds a headers object from name/value pairs.
 */
export function setHeader(headers: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  else headers[name] = value;
}

const TRACEPARENT_PATTERN = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * Record headers that commonly carry secrets: logs redact them by default
 * (the topology's `observability.redactHeaders` default).
 */
export const DEFAULT_REDACT_HEADERS: readonly string[] = ['authorization', 'cookie', 'set-cookie', 'x-api-key', 'proxy-authorization'];

/** Most headers on one record: a bound so a bad caller cannot build a huge map by accident. */
export const MAX_HEADERS = 64;

/**
 * Checks user headers: plain object of string → string, at most
 * {@link MAX_HEADERS}, well-formed `traceparent`. Throws INVALID_ARGUMENT
 * naming the header.
 */
export function assertHeaders(headers: unknown, topic?: string): asserts headers is Record<string, string> {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw invalid(`headers must be an object of string values, got ${Array.isArray(headers) ? 'an array' : typeof headers}`, topic);
  }
  let count = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (++count > MAX_HEADERS) throw invalid(`a record has more than ${MAX_HEADERS} headers`, topic);
    if (name.length === 0) throw invalid('a header name is empty', topic);
    if (typeof value !== 'string') throw invalid(`header "${name}" must be a string, got ${typeof value}`, topic);
    if (name === HEADERS.TRACEPARENT && !TRACEPARENT_PATTERN.test(value)) {
      throw invalid(`header "traceparent" is not a W3C trace context ("00-<32 hex>-<16 hex>-<2 hex>"): ${JSON.stringify(value)}`, topic);
    }
  }
}

function invalid(problem: string, topic: string | undefined): WalrusError {
  return new WalrusError('INVALID_ARGUMENT', `Invalid record headers${topic ? ` for topic ${topic}` : ''}: ${problem}.`, {
    context: topic ? { topic } : {},
  });
}
