import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { EXIT } from '../../src/cli/command.js';
import { MetricsHub, StatsSampler } from '../../src/observability/index.js';
import { dashboardTopology } from '../../src/runtime/pipeline/dashboard-wiring.js';
import { resolveAssignment } from '../../src/runtime/pipeline/instance-assignment.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { fixture, harness, type Harness } from '../runtime/harness.js';

// The dashboard's picture of instances and partitions (docs/scaling.md): which
// instance a run is, which partitions of each partitioned source, sink and store
// it owns, and each partition's lag, in the JSON model and over the event stream
// of a real `run --instances 2 --instance 1`.

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const yaml = (stateDir: string) => `
app: parts
stateDir: ${stateDir}
workers: 1
sources:
  in: { topic: in, partitions: 4, poll: { minInterval: 1ms, maxInterval: 20ms, batchSize: 5 } }
processors:
  slow: { module: ${fixture('slow.ts')}, input: in, batchSize: 1, concurrency: 1 }
  count: { module: ${fixture('state-count.ts')}, input: slow, ordering: key, stores: [totals] }
sinks:
  out: { topic: out, partitions: 4, input: count }
  plain: { topic: plain, input: slow }
stores:
  totals: { partitions: 4 }
observability: { logLevel: warn }
`;

test('the topology model names the instance and, per partitioned source, sink and store, the partitions it owns', async () => {
  const { topology } = await loadTopologyText(yaml(h.stateDir), join(h.stateDir, 'topology.yaml'), { env: {} });
  const view = dashboardTopology(topology, [], { instance: '1', assignment: resolveAssignment({ instances: '2', instance: '1' }) });
  assert.deepEqual(view.instance, { id: '1', index: 1, count: 2 });
  assert.deepEqual(view.partitioned, [
    { kind: 'source', name: 'in', topic: 'in', partitions: 4, owned: [1, 3] },
    { kind: 'sink', name: 'out', topic: 'out', partitions: 4, owned: null },
    { kind: 'store', name: 'totals', topic: 'parts-totals-changelog', partitions: 4, owned: [1, 3] },
  ], 'the unpartitioned sink "plain" is not listed');
  // One instance reads every partition; a named instance without --instances shares topics.
  const single = dashboardTopology(topology);
  assert.deepEqual(single.instance, { id: null, index: null, count: null });
  assert.deepEqual(single.partitioned[0]!.owned, [0, 1, 2, 3]);
  assert.deepEqual(dashboardTopology(topology, [], { instance: 'a' }).instance, { id: 'a', index: null, count: null });
  assert.deepEqual(dashboardTopology(topology, [], { assignment: { instance: 2, instances: 3 } }).partitioned[0]!.owned, [2]);
});

test('the stats frame carries each partition\'s lag; a partitioned source shows before its first record', () => {
  const hub = new MetricsHub({ processMetrics: false });
  const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => ({}), partitionLag: () => hub.sourcePartitionLag() });
  hub.setSourcePartitionLag('in', 0, 5);
  hub.setSourcePartitionLag('in', 3, 2);
  const frame = sampler.sample();
  assert.deepEqual(frame.sources.in, { records: 0, rate: 0, partitionLag: { 0: 5, 3: 2 } });
  hub.setSourcePartitionLag('in', 3, 0);
  assert.deepEqual(frame.sources.in!.partitionLag, { 0: 5, 3: 2 }, 'a frame is a copy: later reports do not change it');
  assert.deepEqual(sampler.sample().sources.in!.partitionLag, { 0: 5, 3: 0 });
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

interface Frame { sources: Record<string, { partitionLag?: Record<string, number> }> }

/** Reads `/api/events` until a stats frame satisfies `wanted` (bounded). */
async function statsFrame(address: string, wanted: (frame: Frame) => boolean, timeoutMs = 20_000): Promise<Frame> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no matching stats frame within ${timeoutMs} ms`)), timeoutMs);
  try {
    const res = await fetch(`http://${address}/api/events`, { signal: abort.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    let text = '';
    for await (const chunk of res.body!) {
      text += Buffer.from(chunk as Uint8Array).toString('utf8');
      let end: number;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const message = text.slice(0, end);
        text = text.slice(end + 2);
        const data = /^event: stats\ndata: (.*)$/m.exec(message)?.[1];
        if (data === undefined) continue;
        const frame = JSON.parse(data) as Frame;
        if (wanted(frame)) return frame;
      }
    }
    throw new Error('the event stream ended before a matching stats frame');
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

test('run --instances 2 --instance 1: /api/topology, the event stream and /metrics show the instance, its partitions and their lag', { timeout: 60_000 }, async () => {
  // Partitions 1 and 3 (this instance's) hold ~2 s of work (one record at a time); 0 and 2 (the other instance's) are never read here.
  const work = (p: number, n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${p}-${i % 3}`, value: { ms: 40, amount: 1, i } }));
  await h.produce('in.p0', work(0, 5));
  await h.produce('in.p1', work(1, 25));
  await h.produce('in.p2', work(2, 7));
  await h.produce('in.p3', work(3, 25));
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, yaml(h.stateDir));
  const stdout = new Capture();
  const stderr = new Capture();
  const done = main(['run', file, '--nodes', h.broker.address, '--until-idle', '--instances', '2', '--instance', '1', '--metrics-address', '127.0.0.1:0', '--progress-interval', '0', '--json'],
    { stdout, stderr, stdin: process.stdin, env: {}, cwd: process.cwd() });
  try {
    let address: string | undefined;
    for (let i = 0; i < 400 && address === undefined; i++) {
      address = /dashboard: http:\/\/(\S+)\//.exec(stderr.text)?.[1];
      if (address === undefined) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(address, stderr.text);

    const topology = await (await fetch(`http://${address}/api/topology`)).json() as { instance: unknown; partitioned: Array<{ kind: string; name: string; owned: number[] | null }> };
    assert.deepEqual(topology.instance, { id: '1', index: 1, count: 2 });
    assert.deepEqual(topology.partitioned.map((p) => [p.kind, p.name, p.owned]), [['source', 'in', [1, 3]], ['sink', 'out', null], ['store', 'totals', [1, 3]]]);

    // The node reports every partition's lag; the other instance's partitions keep theirs (nothing reads them).
    const frame = await statsFrame(address, (f) => f.sources.in?.partitionLag?.[0] !== undefined);
    const lag = frame.sources.in!.partitionLag!;
    assert.deepEqual([lag[0], lag[2]], [5, 7]);
    assert.ok(lag[1]! <= 25 && lag[3]! <= 25, JSON.stringify(lag));
    const metrics = await (await fetch(`http://${address}/metrics`)).text();
    assert.match(metrics, /walrus_stream_source_partition_lag_entries\{source="in",partition="2"\} 7\n/);
  } finally {
    assert.equal(await done, EXIT.OK, stderr.text);
  }
  const summary = JSON.parse(stdout.text) as { sources: { in: { records: number } } };
  assert.equal(summary.sources.in.records, 50, 'instance 1 read partitions 1 and 3 only');
});
