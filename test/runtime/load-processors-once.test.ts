import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { prestartPool } from '../../src/runtime/pool/prestart.js';
import { fixture, harness } from './harness.js';

/**
 * Start-up loads every processor in every worker thread, then checks that
 * each is loaded everywhere. The check asked every worker for its health once
 * per processor — and each answer lists every processor loaded so far — so a
 * topology of 2,000 processors made 2,000 round trips to each worker (5.4 s
 * of loading, 3.4 s with one check at the end; 4,000: 11.1 s and 6.9 s).
 */
test('start-up checks that 200 processors are loaded with one health round trip, not one per processor, and they all run', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const n = 200;
  const processors = Array.from({ length: n }, (_, i) => ` p${i}: {module: ${fixture('echo.js')}, input: s}`);
  const yaml = `app: fan\nstateDir: \${STATE_DIR}\nsources: {s: {topic: in}}\nprocessors:\n${processors.join('\n')}\nsinks: {out: {topic: out, input: p0}}\n`;
  const { topology } = await loadTopologyText(yaml, join(fixture(''), 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  await h.produce('in', [{ value: 1, key: 'a' }, { value: 2, key: 'b' }, { value: 3, key: 'a' }]);
  const prestarted = prestartPool(topology, 1);
  // The real pool; only counted.
  const { pool } = prestarted;
  const health = pool.health.bind(pool);
  let checks = 0;
  let loading = true;
  pool.health = () => { if (loading) checks += 1; return health(); };
  const pipeline = await startPipeline(topology, {
    nodes: [h.broker.address], untilIdle: true, workers: 1, prestartedPool: prestarted,
    onStartup: (phase) => { if (phase === 'opening the journal') loading = false; },
  });
  const summary = await pipeline.done;
  assert.ok(checks >= 1 && checks <= 2, `${checks} health round trips while loading ${n} processors`);
  assert.equal(summary.processors.p0!.processed, 3);
  assert.equal(summary.processors[`p${n - 1}`]!.processed, 3);
  assert.equal((await h.drain('out')).length, 3);
});
