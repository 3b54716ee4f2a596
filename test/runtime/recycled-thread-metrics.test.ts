import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { MetricsHub, parsePrometheusText } from '../../src/observability/index.js';
import { harness } from './harness.js';

const fixtures = fileURLToPath(new URL('../observability/fixtures/', import.meta.url));

// The coordinator keeps, per worker thread, the last totals of every processor-metric series the thread sent (so a
// snapshot delivered twice adds nothing). Nothing ever let them go: with `recycleAfterTasks` (meant for processors
// that leak) every thread the run ever started kept its set of series in the coordinator for the whole run.
test('processor-metric totals kept per worker thread go once the thread ends: a recycling pool keeps its live threads\' only, and the counts stay exact', { timeout: 180_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const n = 100;
  await h.produce('in', Array.from({ length: n }, (_, i) => ({ value: { n: i } })), 10);
  await h.client.register('out');
  const { topology } = await loadTopologyText(`
app: recycled
stateDir: \${STATE_DIR}
workers: 1
workerPool: { recycleAfterTasks: 1 }
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  count: { module: ./labels-per-record.ts, input: in, batchSize: 10, concurrency: 1 }
sinks:
  out: { topic: out, input: count }
observability: { logLevel: silent }
`, join(fixtures, 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  const hub = new MetricsHub({ processMetrics: false });
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address], metrics: hub });
  t.after(async () => { pipeline.stop(); await pipeline.done.catch(() => undefined); });
  const processed = () => pipeline.coordinator.snapshot().processors.count!.processed;
  let most = 0;
  while (processed() < n) {
    most = Math.max(most, hub.workerGenerations);
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 200)); // the last recycled thread ends
  most = Math.max(most, hub.workerGenerations);
  const replaced = pipeline.pool.replacements;
  assert.ok(replaced >= 6, `the pool recycled its thread after each batch (${replaced} replacements)`);
  assert.ok(most <= 3, `per-thread totals kept for ${most} threads at once (${replaced} threads ended)`);
  pipeline.stop();
  await pipeline.done;
  const m = parsePrometheusText(await hub.metrics());
  const total = (name: string) => m.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
  assert.equal(total('fixture_by_tier_total'), n, 'every record counted once over all the threads');
  assert.equal(total('fixture_by_id_total'), n);
  assert.equal((await h.drain('out')).length, n);
});
