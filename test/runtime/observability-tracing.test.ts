// run-tests: own process: sets the process-wide tracer provider
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { parseTraceparent } from '../../src/observability/index.js';
import { harness, type Harness } from './harness.js';

let h: Harness;
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
before(async () => { h = await harness(); trace.setGlobalTracerProvider(provider); });
after(async () => { trace.disable(); await provider.shutdown(); await h.close(); });

const fixtures = fileURLToPath(new URL('../observability/fixtures/', import.meta.url));
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

test('one trace spans the fetch, two processors and the sink write of a real run, and the sink record carries it', async () => {
  await h.produce('in', [{ value: { n: 1 } }]);
  const { topology } = await loadTopologyText(`
app: traced
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  first: { module: ./counting-crash.ts, input: in }
  second: { module: ./plus-one.ts, input: first }
sinks:
  out: { topic: out, input: second }
`, join(fixtures, 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address], untilIdle: true });
  await pipeline.done;
  const spans = exporter.getFinishedSpans();
  const fetch = spans.filter((s) => s.name === 'walrus.fetch');
  const first = spans.filter((s) => s.name === 'walrus.process' && s.attributes['walrus.processor'] === 'first');
  const second = spans.filter((s) => s.name === 'walrus.process' && s.attributes['walrus.processor'] === 'second');
  const produce = spans.filter((s) => s.name === 'walrus.produce' && s.attributes['walrus.sink'] === 'out');
  assert.deepEqual([fetch.length, first.length, second.length, produce.length], [1, 1, 1, 1], spans.map((s) => s.name).join(', '));
  const traceId = fetch[0].spanContext().traceId;
  for (const s of [first[0], second[0], produce[0]]) assert.equal(s.spanContext().traceId, traceId, `${s.name} is in the fetch's trace`);
  assert.equal(parentOf(first[0]), fetch[0].spanContext().spanId);
  assert.equal(parentOf(second[0]), first[0].spanContext().spanId);
  assert.equal(parentOf(produce[0]), second[0].spanContext().spanId);
  assert.equal(typeof first[0].attributes['walrus.record.id'], 'string');
  assert.equal(typeof first[0].attributes['walrus.worker.id'], 'number');
  // The record written to the sink carries the trace on to whatever reads `out` next.
  const [out] = await h.drain('out');
  assert.deepEqual(out.value, { n: 2 });
  assert.equal(parseTraceparent(out.headers.traceparent!)?.traceId, traceId);
});
