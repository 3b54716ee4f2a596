// run-tests: own process: sets the process-wide tracer provider
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { extractTraceContext, injectTraceContext, injectTraceparent, recordSpanError, startSpan, tracingActive, withSpan } from '../../src/observability/tracing/tracing.js';
import { formatTraceparent, parseTraceparent } from '../../src/observability/tracing/w3c-propagator.js';
import { SPAN_ATTRIBUTES, SPAN_NAMES } from '../../src/observability/tracing/span-attributes.js';
import { WalrusError } from '../../src/errors/index.js';

const PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

test('traceparent parsing follows W3C Trace Context', () => {
  const ctx = parseTraceparent(PARENT)!;
  assert.equal(ctx.traceId, '0af7651916cd43dd8448eb211c80319c');
  assert.equal(ctx.spanId, 'b7ad6b7169203331');
  assert.equal(ctx.traceFlags, 1);
  assert.equal(formatTraceparent(ctx), PARENT);
  for (const bad of [
    'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', // forbidden version
    '00-00000000000000000000000000000000-b7ad6b7169203331-01', // zero trace id
    '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01', // zero span id
    '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01', // upper case
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra', // v00 has 4 fields
    'garbage',
  ]) assert.equal(parseTraceparent(bad), undefined, bad);
  assert.ok(parseTraceparent('01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future'));
});

test('with no SDK registered, spans are no-ops and an incoming trace still flows through', () => {
  trace.disable();
  const fresh = startSpan(SPAN_NAMES.process, { 'walrus.processor': 'parse' });
  assert.equal(fresh.isRecording(), false);
  assert.equal(injectTraceparent(fresh), undefined, 'no trace to continue: no header is written');
  const continued = startSpan(SPAN_NAMES.process, {}, { traceparent: PARENT });
  assert.equal(injectTraceparent(continued), PARENT, 'the upstream trace passes through unchanged');
  fresh.end();
  continued.end();
});

test('tracingActive: false until an SDK is registered (the runtime then skips its spans), true while one is', async () => {
  trace.disable();
  assert.equal(tracingActive(), false);
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())] });
  trace.setGlobalTracerProvider(provider);
  try {
    assert.equal(tracingActive(), true);
  } finally {
    trace.disable();
    await provider.shutdown();
  }
  assert.equal(tracingActive(), false);
});

test('one trace spans two processors and a sink, carried in record headers', async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  try {
    // Pipeline A: a record arrives with no trace; the fetch starts one.
    const fetch = startSpan(SPAN_NAMES.fetch, { 'walrus.source': 'orders', 'walrus.batch.size': 1 });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    injectTraceContext(fetch, headers);
    fetch.end();

    // Processor `parse` (in a worker: only the headers crossed the thread boundary).
    const parse = startSpan(SPAN_NAMES.process, { 'walrus.processor': 'parse', 'walrus.record.id': 'r1' }, headers);
    const parsedHeaders = injectTraceContext(parse, { ...headers });
    parse.end();

    // Processor `route` in a second pipeline, reading what the first one wrote.
    const route = await withSpan(SPAN_NAMES.process, { 'walrus.processor': 'route' }, parsedHeaders.traceparent, async (span) => {
      return { span, headers: injectTraceContext(span, { ...parsedHeaders }) };
    });

    // The sink writes, and fails once (recorded on the span).
    const produce = startSpan(SPAN_NAMES.produce, { 'walrus.sink': 'accepted', 'walrus.topic': 'orders.accepted' }, extractTraceContext(route.headers));
    recordSpanError(produce, new WalrusError('REQUEST_TIMEOUT', 'node slow'));
    produce.end();

    const spans = exporter.getFinishedSpans();
    assert.deepEqual(spans.map((s) => s.name), ['walrus.fetch', 'walrus.process', 'walrus.process', 'walrus.produce']);
    const [f, p1, p2, out] = spans as [typeof spans[0], typeof spans[0], typeof spans[0], typeof spans[0]];
    assert.equal(new Set(spans.map((s) => s.spanContext().traceId)).size, 1, 'all four spans share one trace');
    assert.equal(f.parentSpanContext, undefined);
    assert.equal(p1.parentSpanContext?.spanId, f.spanContext().spanId);
    assert.equal(p2.parentSpanContext?.spanId, p1.spanContext().spanId);
    assert.equal(out.parentSpanContext?.spanId, p2.spanContext().spanId);
    assert.equal(p1.attributes[SPAN_ATTRIBUTES.PROCESSOR], 'parse');
    assert.equal(p1.attributes[SPAN_ATTRIBUTES.MESSAGING_SYSTEM], 'walrus');
    assert.equal(out.attributes[SPAN_ATTRIBUTES.ERROR_CODE], 'REQUEST_TIMEOUT');
    assert.equal(out.status.code, 2);
    assert.equal(headers['content-type'], 'application/json', 'other headers are kept');
    assert.match(headers.traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  } finally {
    await provider.shutdown();
    trace.disable();
  }
});
