import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { MAX_HELD_LEASES } from '../../src/runtime/sources/lease-acks.js';
import { fixture, harness } from './harness.js';

// Without a journal a fetched lease is the only crash protection of its
// records: it is acknowledged once they finish. More one-entry batches than
// MAX_HELD_LEASES in flight used to get their leases acknowledged at once, so
// a stop that cut their records short (SIGTERM, abortAfterMs) lost them: in no
// journal, and gone from the node. Now fetching waits at the cap instead.
// And the stop's abort point (abortAfterMs) used to fire the signals of the records inside a processor at that
// moment only: the records queued behind them still ran in full afterwards (here 6 s of a 100 ms abort point).

test(`no journal, more than ${MAX_HELD_LEASES} one-record entries in flight, stopped mid-way: every record is output or redelivered on the next run`, { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const n = MAX_HELD_LEASES + 300;
  await h.produce('in', Array.from({ length: n }, (_, i) => ({ value: { ms: 3_000, i } })), 1);
  await h.client.register('out');
  const yaml = `
app: t
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in, poll: { batchSize: 1, minInterval: 1ms, maxInterval: 5ms } }
processors:
  slow: { module: ${fixture('slow.ts')}, input: in, batchSize: 2000, timeout: 60s }
sinks:
  out: { topic: out, input: slow }
observability: { logLevel: silent }
`;
  const base = join(fileURLToPath(new URL('../fixtures/processors/', import.meta.url)), 'topology.yaml');
  const { topology } = await loadTopologyText(yaml, base, { env: { STATE_DIR: h.stateDir } });
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address], journal: false, maxInFlight: 10_000 });
  // Let it fetch all it may while the processor holds every record for 3 s, then stop as SIGTERM does.
  await new Promise((r) => setTimeout(r, 1_500));
  pipeline.stop({ abortAfterMs: 100 });
  const first = await pipeline.done;
  assert.ok(first.sources.in!.records <= MAX_HELD_LEASES + 64, `fetching paused at the held-lease cap: ${first.sources.in!.records} fetched`);
  const seen = new Set((await h.drain('out')).map((r) => (r.value as { i: number }).i));
  // Past the abort point no processor call starts: the records still queued behind the first batches (which had not
  // started when it passed) are cut short too, not run for their 3 s each while the stop waits.
  assert.equal(seen.size, 0, 'no record ran to its end after the abort point');
  assert.equal(first.processors.slow!.abandoned, first.sources.in!.records, 'every fetched record was cut short, kept for the next run');

  // The next run, until idle, gets whatever the node redelivers (its leases were never acknowledged); it echoes
  // each record at once instead of holding it 3 s.
  const second = await h.run(yaml.replace(fixture('slow.ts'), fixture('echo.js')), { journal: false });
  for (const r of await h.drain('out')) seen.add((r.value as { i: number }).i);
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !seen.has(i));
  assert.deepEqual(missing, [], `records neither output nor redelivered (first run fetched ${first.sources.in!.records}, second ${second.sources.in!.records})`);
});
