import {
  createTraceState, isSpanContextValid, trace,
  type Context, type SpanContext, type TextMapGetter, type TextMapPropagator, type TextMapSetter,
} from '@opentelemetry/api';
import { TRACEPARENT_HEADER, TRACESTATE_HEADER } from './span-attributes.js';

// version-traceid-parentid-flags; future versions may append fields after a dash.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Parses a `traceparent` value; undefined when it is malformed (the W3C rule: then start a new trace). */
export function parseTraceparent(value: string): SpanContext | undefined {
  const match = TRACEPARENT.exec(value.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  // Version ff is forbidden; version 00 has exactly four fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  const context: SpanContext = { traceId: traceId!, spanId: spanId!, traceFlags: parseInt(flags!, 16), isRemote: true };
  return isSpanContextValid(context) ? context : undefined;
}

/** Formats a span context as a version-00 `traceparent`. */
export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * W3C Trace Context propagation written against the API's
 * `TextMapPropagator` interface, so `src/` depends on `@opentelemetry/api`
 * only (the SDK stays the user's choice). Record headers are the carrier.
 */
export class W3CTraceContext implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const spanContext = trace.getSpanContext(context);
    if (spanContext === undefined || !isSpanContextValid(spanContext)) return;
    setter.set(carrier, TRACEPARENT_HEADER, formatTraceparent(spanContext));
    const state = spanContext.traceState?.serialize();
    if (state) setter.set(carrier, TRACESTATE_HEADER, state);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = first(getter.get(carrier, TRACEPARENT_HEADER));
    if (header === undefined) return context;
    const spanContext = parseTraceparent(header);
    if (spanContext === undefined) return context;
    const state = first(getter.get(carrier, TRACESTATE_HEADER));
    if (state !== undefined) spanContext.traceState = createTraceState(state);
    return trace.setSpanContext(context, spanContext);
  }

  fields(): string[] {
    return [TRACEPARENT_HEADER, TRACESTATE_HEADER];
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
