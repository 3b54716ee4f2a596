// run-tests: own process: measures the process's heap
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRecords } from '../../src/codec/index.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { fixture, harness } from './harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMiB = async () => {
  for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setImmediate(r)); }
  return process.memoryUsage().heapUsed / 2 ** 20;
};

// A record id is any string its producer chose, up to a whole entry. A
// source's `dedupe` window keeps `window` ids; it used to keep each one whole,
// so 1,500 ids of 30,000 characters held ~45 MB of the coordinator's heap for
// as long as they stayed in the window. Long ids are now kept as a digest.
test('a dedupe window over records with 30,000-character ids keeps a digest of each, and still drops their duplicates', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const n = 1_500;
  const entries = Array.from({ length: n }, (_, i) => encodeRecords([{ id: `${i}:${'i'.repeat(30_000)}`, value: Buffer.from(JSON.stringify({ i })) }]));
  await h.client.register('ids.in');
  const { topology } = await loadTopologyText(`
app: ids
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: ids.in, dedupe: { window: 100000 }, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  p: { module: ${JSON.stringify(fixture('echo.js'))}, input: in }
sinks:
  out: { topic: ids.out, input: p }
`, join(fileURLToPath(new URL('../fixtures/processors/', import.meta.url)), 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  const before = await heapMiB();
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address] });
  t.after(async () => { pipeline.stop(); await pipeline.done; });
  const stats = () => pipeline.coordinator.stats.source('in', 'ids.in');
  const until = async (done: () => boolean) => { while (!done()) await new Promise((r) => setTimeout(r, 50)); };

  await h.client.putMany('ids.in', entries);
  await until(() => stats().records >= n);
  await h.client.putMany('ids.in', entries); // the same ids again: an upstream replay
  await until(() => (stats().duplicates ?? 0) >= n);
  const grown = (await heapMiB()) - before;
  assert.equal(stats().duplicates, n, 'every repeat dropped');
  assert.ok(grown < 20, `the coordinator's heap grew by ${grown.toFixed(0)} MiB while the window held ${n} ids of 30,000 characters`);
  pipeline.stop();
  const summary = await pipeline.done;
  assert.equal(summary.processors.p!.processed, n);
  assert.equal((await h.drainEntries('ids.out')).length > 0, true);
});
