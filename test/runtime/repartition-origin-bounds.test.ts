import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { encodeRecords } from '../../src/codec/index.js';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { MAX_ORIGIN_STREAMS } from '../../src/runtime/sources/repartition-origin.js';
import { fixture, harness, type Harness } from './harness.js';

// The reader of a repartition topic remembers the record ids it admitted per
// (writer, partition), persisted next to its journal and reloaded at start.
// A writer that stopped left its ids behind, and records with made-up
// origins (any client can write the topic) each made a stream that was kept
// for good: 10,000 such records left 10,000 remembered ids after a restart.

async function run(h: Harness, app: string, warnings: string[]) {
  const { topology } = await loadTopologyText(`
app: ${app}
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: ${app}-in, partitions: 2, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  group: { module: ${JSON.stringify(fixture('rekey-group.ts'))}, input: in, ordering: key, rekey: true }
  total: { module: ${JSON.stringify(fixture('echo.js'))}, input: group, ordering: key }
sinks:
  out: { topic: ${app}-out, input: total }
`, join(h.stateDir, 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  const logger = { warn: (_: unknown, msg: string) => warnings.push(msg), info() {}, debug() {}, error() {}, fatal() {}, trace() {}, child() { return logger; } };
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address], untilIdle: true, logger: logger as never });
  return pipeline.done;
}

async function findFile(dir: string, name: string): Promise<string | undefined> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return path;
    if (entry.isDirectory()) { const found = await findFile(path, name); if (found) return found; }
  }
  return undefined;
}

test('records with made-up origins on a repartition topic are all processed, and what the reader remembers of their writers stays within its bound, after a restart too', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const app = 'forged';
  const n = 10_000;
  const key = 'g-1';
  const topic = `${app}-group-repartition.p${partitionOfKey(key, 2)}`;
  for (const p of [0, 1]) { await h.client.register(`${app}-in.p${p}`); await h.client.register(`${app}-group-repartition.p${p}`); }
  const entries: string[] = [];
  for (let i = 0; i < n; i += 100) {
    entries.push(encodeRecords(Array.from({ length: 100 }, (_, j) => ({
      key, value: pack({ forged: i + j }), headers: { 'walrus-origin': `${(i + j).toString(16).padStart(16, '0')} 1 0` },
    }))));
  }
  await h.client.putMany(topic, entries);

  const warnings: string[] = [];
  const first = await run(h, app, warnings);
  assert.equal(first.processors.total!.processed, n, 'every record processed: none is a copy of another');
  assert.equal(warnings.filter((w) => /forgot the record ids/.test(w)).length, 1, 'said once');
  assert.equal((await h.drainEntries(`${app}-out`)).length > 0, true);

  await run(h, app, []); // a restart: the remembered ids are read back and rewritten
  const seen = await findFile(h.stateDir, 'repartition-seen.log');
  assert.ok(seen, 'the reader keeps its remembered ids next to its journal');
  const lines = (await readFile(seen, 'utf8')).split('\n').filter(Boolean).length;
  assert.ok(lines <= MAX_ORIGIN_STREAMS, `${lines} remembered ids after a restart (one per made-up writer)`);
});
