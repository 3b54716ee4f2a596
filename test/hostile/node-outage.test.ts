import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { decodeEntry, encodeRecords } from '../../src/codec/index.js';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { startTestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { countOrder as order, countTopology, expectedCounts } from '../helpers/state-count.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const N = 6_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A node (in this process), a fault proxy in front of it, N keyed orders on
 * `orders`, and `walrus-stream run` (a real process, paced to about 4 s of
 * work) reaching the node through the proxy; resolves once outputs flow.
 */
async function runThroughProxy(t: TestContext, cluster?: string) {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-node-outage-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const node = await startTestBroker();
  t.after(() => node.close());
  // The run reaches the node through the proxy; the test reads it directly.
  const proxy = await FaultProxy.start(node);
  t.after(() => proxy.close());
  const client = new WalrusClient({ nodes: [node.address] });
  t.after(() => client.close());
  await client.register('orders');
  const entries: string[] = [];
  for (let i = 0; i < N; i += 3) {
    entries.push(encodeRecords([i, i + 1, i + 2].map((j) => ({ key: order(j).key, value: Buffer.from(JSON.stringify(order(j).value)) }))));
  }
  for (let i = 0; i < entries.length; i += 200) await client.putMany('orders', entries.slice(i, i + 200));

  const stateDir = join(dir, 'state');
  const file = join(dir, 'topology.yaml');
  await writeFile(file, `${countTopology({ app: 'outage', stateDir, cluster, source: '{ topic: orders, poll: { batchSize: 30 }, rateLimit: 1500 }' })}observability: { logLevel: warn }\n`);
  const run = spawn(process.execPath, [BIN, 'run', file, '--nodes', proxy.address, '--until-idle', '--json', '--progress-interval', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (run.exitCode === null) run.kill('SIGKILL'); });
  const out = { stdout: '', stderr: '' };
  run.stdout.on('data', (c: Buffer) => { out.stdout += c; });
  run.stderr.on('data', (c: Buffer) => { out.stderr += c; });
  const exited = new Promise<number | null>((resolve) => run.once('exit', (code) => resolve(code)));
  const outEntries = async () => (await client.state('counts.out').catch(() => undefined))?.totalEntries ?? 0;
  for (let i = 0; i < 2_000 && (await outEntries()) < 20; i++) await sleep(10);
  assert.equal(run.exitCode, null, `the run was still going when the fault began; stderr: ${out.stderr}`);
  return { run, out, exited, client, proxy, stateDir, outEntries };
}

test('a 2 s outage of the node mid-run (default breaker): `run` resumes soon after the node is back, exits 0, nothing lost, state exact', { timeout: 90_000 }, async (t) => {
  const { run, out, exited, client, proxy, stateDir, outEntries } = await runThroughProxy(t);
  // The outage: every connection through the proxy is reset, and every new one, for 2 s.
  proxy.setMode({ kind: 'drop' });
  await sleep(2_000);
  const before = await outEntries();
  proxy.setMode({ kind: 'pass' });
  const back = performance.now();
  // Resumed: outputs grow again. Before the breaker's openings started short, it stayed open for
  // its full openDuration (30 s) after the outage, so the run stood still for ~28 s after the node was back.
  let resumedMs: number | undefined;
  while (run.exitCode === null && performance.now() - back < 8_000) {
    if ((await outEntries()) > before) { resumedMs = performance.now() - back; break; }
    await sleep(20);
  }
  t.diagnostic(`outputs resumed ${resumedMs === undefined ? 'not within 8 s' : `${Math.round(resumedMs)} ms`} after the node was back`);
  assert.ok(resumedMs !== undefined || (run.exitCode !== null && (await outEntries()) > before), `the run did not resume within 8 s of the node coming back; stderr: ${out.stderr}`);

  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<string>((r) => { timer = setTimeout(() => r('still running after 40 s'), 40_000); })]);
  clearTimeout(timer);
  assert.equal(code, 0, out.stderr);
  assert.match(out.stderr, /fetch failed; retrying|sink write failed|lease ack failed|changelog publish failed/, 'the run saw the outage');
  const summary = JSON.parse(out.stdout) as { sources: { orders: { records: number; duplicates?: number } } };
  assert.equal(summary.sources.orders.records, N);

  // Nothing counted twice or missed: the store holds exactly the totals of N records.
  const { totals: want, prefix } = expectedCounts(N);
  const store = await KeyValueStore.open({ dir: storeDir(stateDir, 'outage', 'totals'), name: 'totals' });
  try {
    assert.deepEqual(new Map(store.range().map((e) => [e.key, e.value])), want, 'every record counted exactly once');
  } finally {
    await store.close();
  }
  const counts = new Map<number, number>();
  for (let got = await client.getMany('counts.out', 1_000); got.length > 0; got = await client.getMany('counts.out', 1_000)) {
    for (const entry of got) {
      for (const r of decodeEntry(entry.toString('utf8'))) {
        const o = JSON.parse(Buffer.from(r.value).toString('utf8')) as { i: number; n: number; sum: number };
        assert.deepEqual({ n: o.n, sum: o.sum }, prefix.get(o.i), `record ${o.i} computed from the state just before it`);
        counts.set(o.i, (counts.get(o.i) ?? 0) + 1);
      }
    }
  }
  const outputs = [...counts.values()].reduce((a, b) => a + b, 0);
  t.diagnostic(`${outputs} outputs for ${N} records, ${outputs - counts.size} written twice (a write retried after its reply was lost), ` +
    `${summary.sources.orders.duplicates ?? 0} redelivered entries dropped`);
  const missing = Array.from({ length: N }, (_, i) => i).filter((i) => !counts.has(i));
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} records lost`);
  assert.equal((await client.getMany('orders', 10)).length, 0, 'the source is drained');
});

test('a node that stops answering mid-run is reported within seconds, naming it', { timeout: 60_000 }, async (t) => {
  // A long requestTimeout: before the report, the first word of the silence was a request timing out.
  const { run, out, proxy } = await runThroughProxy(t, '{ requestTimeout: 20s }');
  proxy.setMode({ kind: 'blackhole' });
  const silent = performance.now();
  const address = proxy.address.replace(/\./g, '\\.');
  const report = new RegExp(`"level":"warn".*"msg":"node ${address} accepted the connection but has not answered for \\d+\\.\\d s \\(\\d+ call\\(s\\) waiting\\); each request waits up to cluster\\.requestTimeout \\(20\\.0 s\\)`);
  let reportedMs: number | undefined;
  while (performance.now() - silent < 12_000 && run.exitCode === null) {
    if (report.test(out.stderr)) { reportedMs = performance.now() - silent; break; }
    await sleep(20);
  }
  t.diagnostic(`reported ${reportedMs === undefined ? 'not within 12 s' : `${Math.round(reportedMs)} ms`} after the node fell silent`);
  assert.ok(reportedMs !== undefined, `no report within 12 s; stderr: ${out.stderr.slice(-4_000)}`);
});
