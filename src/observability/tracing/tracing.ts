import {
  ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, context as otelContext, isSpanContextValid, trace,
  type Context, type Span, type SpanContext, type TextMapGetter, type Tracer, type TracerProvider,
} from '@opentelemetry/api';
import { SPAN_ATTRIBUTES, SPAN_NAMES, TRACEPARENT_HEADER, TRACESTATE_HEADER, type SpanName, type WalrusSpanAttributes } from './span-attributes.js';
import { W3CTraceContext, formatTraceparent } from './w3c-propagator.js';

/** Record headers: the carrier of trace context between pipeline hops. */
export type RecordHeaders = Record<string, string>;

const TRACER_NAME = 'walrus-stream';
const propagator = new W3CTraceContext();
const getter: TextMapGetter<RecordHeaders> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
};

const KIND: Record<SpanName, SpanKind> = {
  [SPAN_NAMES.fetch]: SpanKind.CONSUMER,
  [SPAN_NAMES.process]: SpanKind.INTERNAL,
  [SPAN_NAMES.produce]: SpanKind.PRODUCER,
};

let cachedProvider: TracerProvider | undefined;
let cachedTracer: Tracer | undefined;

/**
 * The tracer walrus-stream uses. The API's proxy tracer picks up an SDK
 * registered after walrus-stream was imported, so one tracer is kept per
 * global provider object (which only changes on `trace.disable()`); with no
 * SDK registered the API hands back a no-op tracer and spans cost almost
 * nothing.
 */
export function getTracer(): Tracer {
  const provider = trace.getTracerProvider();
  if (provider !== cachedProvider || cachedTracer === undefined) {
    cachedProvider = provider;
    cachedTracer = provider.getTracer(TRACER_NAME);
  }
  return cachedTracer;
}

/**
 * False while no OpenTelemetry SDK is registered: every span would be a
 * no-op, so the runtime skips making them (a process span per record, with
 * its attribute object, was ~5% of the coordinator's allocations). Checked
 * per batch, so an SDK registered later is picked up.
 */
export function tracingActive(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer(TRACER_NAME) !== undefined;
}

/** Where a span's parent comes from: a `traceparent` string, record headers, or an OpenTelemetry context. */
export type SpanParent = string | RecordHeaders | Context | undefined;

// Records of one fetch usually share a traceparent, so the last one parsed
// is kept (contexts are immutable, reuse is safe): it halves the cost of a
// process span when tracing is on.
let lastHeader: string | undefined;
let lastState: string | undefined;
let lastContext: Context = ROOT_CONTEXT;

function contextFromHeader(traceparent: string | undefined, tracestate: string | undefined): Context {
  if (traceparent === undefined) return ROOT_CONTEXT;
  if (traceparent !== lastHeader || tracestate !== lastState) {
    const carrier: RecordHeaders = { [TRACEPARENT_HEADER]: traceparent };
    if (tracestate !== undefined) carrier[TRACESTATE_HEADER] = tracestate;
    lastContext = propagator.extract(ROOT_CONTEXT, carrier, getter);
    lastHeader = traceparent;
    lastState = tracestate;
  }
  return lastContext;
}

function parentContext(parent: SpanParent): Context {
  if (parent === undefined) return otelContext.active();
  if (typeof parent === 'string') return contextFromHeader(parent, undefined);
  if (typeof (parent as Context).getValue === 'function') return parent as Context;
  const headers = parent as RecordHeaders;
  return contextFromHeader(headers[TRACEPARENT_HEADER], headers[TRACESTATE_HEADER]);
}

/**
 * Starts a `walrus.fetch`, `walrus.process` or `walrus.produce` span. Pass
 * the record's headers (or its `traceparent`) as `parent` so the span joins
 * the trace the record already belongs to. The caller ends the span.
 *
 * @example
 * const span = startSpan('walrus.process', { 'walrus.processor': 'parse' }, record.headers);
 * try { ... } catch (e) { recordSpanError(span, e); throw e; } finally { span.end(); }
 *
 * `startTime` (epoch ms) backdates the span, for work measured elsewhere (a worker's result).
 */
export function startSpan(name: SpanName, attributes: WalrusSpanAttributes = {}, parent?: SpanParent, startTime?: number): Span {
  return getTracer().startSpan(
    name,
    { kind: KIND[name], attributes: { [SPAN_ATTRIBUTES.MESSAGING_SYSTEM]: 'walrus', ...attributes }, startTime },
    parentContext(parent),
  );
}

/** The W3C `traceparent` for `span`, or undefined when it is not part of a valid trace (no SDK, no parent). */
export function injectTraceparent(span: Span): string | undefined {
  const spanContext = span.spanContext();
  return isSpanContextValid(spanContext) ? traceparentOf(spanContext) : undefined;
}

// With no SDK, every process span of a batch hands back its parent's span
// context object, so the last formatted one is kept (by identity).
let lastSpanContext: SpanContext | undefined;
let lastTraceparent = '';

function traceparentOf(spanContext: SpanContext): string {
  if (spanContext !== lastSpanContext) {
    lastTraceparent = formatTraceparent(spanContext);
    lastSpanContext = spanContext;
  }
  return lastTraceparent;
}

/**
 * Writes `traceparent` (and `tracestate`) for `span` into `headers`, in
 * place, and returns them: call it on every record a span emits so the next
 * processor or pipeline continues the trace.
 */
export function injectTraceContext(span: Span, headers: RecordHeaders): RecordHeaders {
  // Same result as propagator.inject, without allocating a Context per record.
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return headers;
  headers[TRACEPARENT_HEADER] = traceparentOf(spanContext);
  const state = spanContext.traceState?.serialize();
  if (state) headers[TRACESTATE_HEADER] = state;
  return headers;
}

/** The OpenTelemetry context carried by record headers (the root context when there is none). */
export function extractTraceContext(headers: RecordHeaders): Context {
  return propagator.extract(ROOT_CONTEXT, headers, getter);
}

/** Marks a span failed with the error's message and WalrusError `code` when it has one. */
export function recordSpanError(span: Span, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException(err);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') span.setAttribute(SPAN_ATTRIBUTES.ERROR_CODE, code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
}

/**
 * Runs `fn` inside a span that ends when `fn` settles, recording a thrown
 * error. The span is active during `fn`, so spans started inside it (for
 * example by the client) become its children.
 */
export async function withSpan<T>(name: SpanName, attributes: WalrusSpanAttributes, parent: SpanParent, fn: (span: Span) => Promise<T> | T): Promise<T> {
  const span = startSpan(name, attributes, parent);
  try {
    return await otelContext.with(trace.setSpan(otelContext.active(), span), () => fn(span));
  } catch (error) {
    recordSpanError(span, error);
    throw error;
  } finally {
    span.end();
  }
}
