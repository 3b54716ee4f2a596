import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { encodeRecords } from '../../src/codec/index.js';
import { Journal } from '../../src/journal/index.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import runCommand from '../../src/cli/commands/run.js';
import { fixture, harness, type Harness } from './harness.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const yaml = (processor: string, extra = '') => `
app: t
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: in, poll: { batchSize: 1, minInterval: 1ms, maxInterval: 10ms } }
processors:
  p: { module: ./${processor}, input: in, batchSize: 4, concurrency: 2 ${extra} }
sinks:
  out: { topic: out, input: p }
`;

test('entries a crashed run left unreleased in the journal are processed on start, then released', async () => {
  const dir = join(h.stateDir, 't', 'journal');
  const leftover = encodeRecords([{ value: Buffer.from(JSON.stringify({ n: 20 })), key: 'r' }]);
  const journal = await Journal.open({ dir });
  await journal.append([{ source: 'in', entry: Buffer.from(leftover) }]);
  await journal.close();

  await h.produce('in', [{ value: { n: 1 } }]);
  const summary = await h.run(yaml('double.ts'));
  assert.equal(summary.recovered, 1);
  const out = (await h.drain('out')).map((r) => (r.value as { n: number }).n).sort((a, b) => a - b);
  assert.deepEqual(out, [2, 40]);
  const reopened = await Journal.open({ dir });
  try {
    assert.deepEqual(reopened.unreleased(), [], 'everything finished was released');
  } finally {
    await reopened.close();
  }
});

test('backpressure: records in flight stay bounded while a processor is slow', async () => {
  const n = 300;
  await h.produce('in', Array.from({ length: n }, (_, i) => ({ value: { ms: 2, i } })), 10);
  const { topology } = await loadTopologyText(yaml('slow.ts'), join(fixture('.'), 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address], untilIdle: true, maxInFlight: 40 });
  let peak = 0;
  const timer = setInterval(() => { peak = Math.max(peak, pipeline.coordinator.snapshot().inFlight); }, 2);
  const summary = await pipeline.done;
  clearInterval(timer);
  assert.equal(summary.processors.p.processed, n);
  assert.ok(peak > 0);
  // The bound, plus what fetches already on their way may add (4 batches of one 10-record entry).
  assert.ok(peak <= 40 + 4 * 10, `peak in flight ${peak}`);
  assert.equal((await h.drain('out')).length, n);
});

test('run fails at start, before fetching, naming a processor module that does not load', async () => {
  await h.produce('in', [{ value: { n: 1 } }]);
  const stderr = new Writable({ write(_c, _e, done) { done(); } });
  const file = join(fixture('.'), 'broken.yaml');
  const { writeFile, rm } = await import('node:fs/promises');
  await writeFile(file, yaml('throws-at-import.ts'));
  try {
    await assert.rejects(
      runCommand.run([file, '--until-idle', '--nodes', h.broker.address], {
        stdout: stderr, stderr, stdin: process.stdin, env: { STATE_DIR: h.stateDir }, cwd: h.stateDir,
      }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'PROCESSOR_LOAD_FAILED');
        assert.match(error.message, /throws-at-import\.ts/);
        assert.match(error.message, /database URL missing/);
        return true;
      },
    );
  } finally {
    await rm(file, { force: true });
  }
  assert.equal((await h.client.getMany('in', 10)).length, 1, 'nothing was fetched');
});

test('stop(): records still in a processor after the grace period are aborted through ctx.signal and kept in the journal for the next start', async () => {
  await h.produce('in', [{ value: { ms: 60_000 }, key: 'a' }, { value: { ms: 60_000 }, key: 'b' }], 2);
  const { topology } = await loadTopologyText(yaml('slow.ts'), join(fixture('.'), 'topology.yaml'), { env: { STATE_DIR: h.stateDir } });
  const pipeline = await startPipeline(topology, { nodes: [h.broker.address] });
  for (let i = 0; i < 200 && pipeline.coordinator.snapshot().inFlight < 2; i++) await new Promise((r) => setTimeout(r, 10));
  const started = Date.now();
  pipeline.stop({ abortAfterMs: 50 });
  const summary = await pipeline.done;
  assert.ok(Date.now() - started < 5_000, 'the 60 s records did not hold up the shutdown');
  assert.equal(summary.processors.p.abandoned, 2);
  assert.equal(summary.unreleased, undefined, 'cut short by shutdown is not a failure (no "not completed" entries)');
  assert.equal(summary.processors.p.deadLettered, 0);
  assert.equal(summary.inFlight, 0);
  assert.deepEqual(await h.drain('out'), []);
  const journal = await Journal.open({ dir: join(h.stateDir, 't', 'journal') });
  try {
    assert.equal(journal.unreleased().length, 1, 'the fetched entry is still in the journal');
  } finally {
    await journal.close();
  }
});
