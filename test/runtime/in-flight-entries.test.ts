import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { encodeRecords } from '../../src/codec/index.js';
import { Journal } from '../../src/journal/index.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { fixture, harness, type Harness } from './harness.js';

// The in-flight bound counts records, but a fetched batch (up to 500 entries) used to be admitted whole, and the
// journal's leftovers all at once at start: entries holding many records each (a compressed entry holds thousands)
// overshot --max-in-flight by a batch's worth. An entry is now admitted only below the bound, so records in flight
// stay within maxInFlight + one entry's records (and an entry holds at most MAX_ENTRY_RECORDS).

const PER_ENTRY = 2_000;
const ENTRIES = 20;
const MAX_IN_FLIGHT = 200;

const entries = (tag: string) => Array.from({ length: ENTRIES }, (_, e) => encodeRecords(
  Array.from({ length: PER_ENTRY }, (_, i) => ({ value: Buffer.from(`{"i":${i}}`), id: `${tag}${e}.${i}` })), { compression: 'gzip' }));

const yaml = `
app: t
stateDir: \${STATE_DIR}
workers: 2
sources: { in: { topic: in } }
processors: { p: { module: ./echo.js, input: in } }
sinks: { out: { topic: out, input: p } }
observability: { logLevel: silent }
`;

/** Runs the pipeline until idle, sampling the records in flight; returns the peak and the summary. */
async function runSampled(h: Harness) {
  const { topology } = await loadTopologyText(yaml, join(fixture('.'), 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address], untilIdle: true, maxInFlight: MAX_IN_FLIGHT });
  let peak = pipeline.coordinator.snapshot().inFlight;
  const timer = setInterval(() => { peak = Math.max(peak, pipeline.coordinator.snapshot().inFlight); }, 1);
  try {
    return { summary: await pipeline.done, peak };
  } finally {
    clearInterval(timer);
  }
}

test(`entries of ${PER_ENTRY} records each, fetched many per poll and left in the journal by a crash: records in flight stay within --max-in-flight + one entry's records, and every record is processed once`, { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const journal = await Journal.open({ dir: join(h.stateDir, 't', 'journal') });
  await journal.append(entries('j').map((entry) => ({ source: 'in', entry: Buffer.from(entry) })));
  await journal.close();
  await h.client.register('in');
  const fetched = entries('f');
  assert.ok(fetched.reduce((n, e) => n + e.length, 0) < 4 * 60 * 1024, 'a poll (60 KiB) fetches several entries at once');
  await h.client.putMany('in', fetched);

  const { summary, peak } = await runSampled(h);
  assert.equal(summary.recovered, ENTRIES * PER_ENTRY);
  assert.equal(summary.processors.p!.processed, 2 * ENTRIES * PER_ENTRY);
  assert.equal(summary.sinks.out!.records, 2 * ENTRIES * PER_ENTRY);
  assert.ok(peak > 0);
  assert.ok(peak < MAX_IN_FLIGHT + PER_ENTRY, `peak in flight ${peak}: at most ${MAX_IN_FLIGHT} + one entry of ${PER_ENTRY}`);
});
