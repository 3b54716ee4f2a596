import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRoutes } from '../../src/runtime/coordinator/routes.js';
import type { Topology } from '../../src/topology/types.js';

test('routes of a source read by 30,000 processors build in linear time (each reader copied the list so far: 450 million copies)', () => {
  const n = 30_000;
  const processors: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) processors[`p${i}`] = { name: `p${i}`, inputs: [{ kind: 'source', name: 's' }] };
  // Only what buildRoutes reads of a topology: each processor's inputs, and the sinks.
  const topology = { processors, sinks: {} } as unknown as Topology;
  const started = performance.now();
  const routes = buildRoutes(topology);
  const elapsed = performance.now() - started;
  assert.equal(routes.bySource.get('s')!.length, n);
  assert.equal(routes.bySource.get('s')![n - 1], `p${n - 1}`);
  // About 10 ms now; the copying took seconds.
  assert.ok(elapsed < 1_000, `${Math.round(elapsed)} ms`);
});
