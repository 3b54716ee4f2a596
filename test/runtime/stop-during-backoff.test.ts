import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { fixture, harness } from './harness.js';

// A record waiting out its retry backoff is in flight, but in no worker: the stop's abort point (which cuts short
// what is inside a processor, and every processor call after it) did not reach it. A stop then waited for the
// whole backoff, or until it gave up (giveUpAfterMs) with an error blaming a node or a processor ignoring its
// signal, and the backoff timers kept the process alive after the run had ended.
test('a stop cuts records waiting out a long retry backoff short at its abort point: kept in the journal, run again on the next start', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const n = 200;
  await h.produce('in', Array.from({ length: n }, (_, i) => ({ value: { n: i, failTimes: 1 } })), 10);
  await h.client.register('out');
  const yaml = `
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 5ms } }
processors:
  flaky: { module: ${fixture('flaky.ts')}, input: in, retry: { attempts: 3, backoff: fixed, initialDelay: 10m, maxDelay: 10m } }
sinks:
  out: { topic: out, input: flaky }
observability: { logLevel: silent }
`;
  const base = join(fileURLToPath(new URL('../fixtures/processors/', import.meta.url)), 'topology.yaml');
  const { topology } = await loadTopologyText(yaml, base, { env: { STATE_DIR: h.stateDir } });
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address] });
  const stats = () => pipeline.coordinator.snapshot().processors.flaky!;
  while (stats().retries < n) await new Promise((r) => setTimeout(r, 20));
  pipeline.stop({ abortAfterMs: 100, giveUpAfterMs: 20_000 });
  const first = await pipeline.done;
  assert.equal(first.processors.flaky!.abandoned, n, 'every record in its backoff was cut short (kept for the next start)');
  assert.equal(first.processors.flaky!.deadLettered, 0);
  assert.equal((await h.drain('out')).length, 0);

  // The next start processes each of them from the journal (their second attempt there is their first: it fails
  // once more, and its retry is quick now).
  const second = await h.run(yaml.replace('initialDelay: 10m, maxDelay: 10m', 'initialDelay: 1ms, maxDelay: 1ms'));
  assert.equal(second.processors.flaky!.processed, n);
  const out = (await h.drain('out')).map((r) => (r.value as { n: number }).n).sort((a, b) => a - b);
  assert.deepEqual(out, Array.from({ length: n }, (_, i) => i));
});
