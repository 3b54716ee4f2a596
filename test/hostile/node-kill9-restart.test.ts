import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { decodeEntry, encodeRecords } from '../../src/codec/index.js';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { spawnBrokerProcess } from '../helpers/broker.js';
import { countOrder as order, countTopology, expectedCounts } from '../helpers/state-count.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const N = 6_000;

async function drain(client: WalrusClient, topic: string): Promise<string[]> {
  const out: string[] = [];
  for (let got = await client.getMany(topic, 1_000); got.length > 0; got = await client.getMany(topic, 1_000)) {
    out.push(...got.map((b) => b.toString('utf8')));
  }
  return out;
}

test('the node is killed -9 mid-run and restarted on its port and data dir: `run` goes on, exits 0, nothing lost, state exact', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-node-kill-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'node');
  let node = await spawnBrokerProcess(['--data-dir', dataDir]);
  t.after(() => { node.child.kill('SIGKILL'); });
  const address = node.address;
  let client = new WalrusClient({ nodes: [address] });
  await client.register('orders');
  const entries: string[] = [];
  for (let i = 0; i < N; i += 3) {
    entries.push(encodeRecords([i, i + 1, i + 2].map((j) => ({ key: order(j).key, value: Buffer.from(JSON.stringify(order(j).value)) }))));
  }
  for (let i = 0; i < entries.length; i += 200) await client.putMany('orders', entries.slice(i, i + 200));

  const file = join(dir, 'topology.yaml');
  // Paced (about 4 s of work) so the kill lands mid-stream; a short breaker
  // so the node is tried again soon after it is back.
  await writeFile(file, `${countTopology({
    app: 'nodekill', stateDir: join(dir, 'state'), cluster: '{ breaker: { openDuration: 500ms } }',
    source: '{ topic: orders, poll: { batchSize: 30 }, rateLimit: 1500 }',
  })}observability: { logLevel: warn }\n`);
  const run = spawn(process.execPath, [BIN, 'run', file, '--nodes', address, '--until-idle', '--json', '--progress-interval', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (run.exitCode === null) run.kill('SIGKILL'); });
  let stdout = '';
  let stderr = '';
  run.stdout.on('data', (c: Buffer) => { stdout += c; });
  run.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-8_000); });
  const exited = new Promise<number | null>((resolve) => run.once('exit', (code) => resolve(code)));

  // Kill once outputs are flowing.
  const outEntries = async () => (await client.state('counts.out').catch(() => undefined))?.totalEntries ?? 0;
  for (let i = 0; i < 1_000 && (await outEntries()) < 20; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(run.exitCode, null, `the run was still going when the node was killed; stderr: ${stderr}`);
  await client.close();
  node.child.kill('SIGKILL');
  await new Promise((r) => node.child.once('exit', r));
  await new Promise((r) => setTimeout(r, 1_000));
  node = await spawnBrokerProcess(['--data-dir', dataDir, '--port', String(node.port)]);
  client = new WalrusClient({ nodes: [address] });
  t.after(() => client.close());

  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<string>((r) => { timer = setTimeout(() => r('still running after 40 s'), 40_000); })]);
  clearTimeout(timer);
  assert.equal(code, 0, stderr);
  const summary = JSON.parse(stdout) as { sources: { orders: { entries: number; duplicates?: number } } };
  assert.match(stderr, /fetch failed; retrying|sink write failed|lease ack failed/, 'the run saw the node go away');

  const { totals: want, prefix } = expectedCounts(N);
  const store = await KeyValueStore.open({ dir: storeDir(join(dir, 'state'), 'nodekill', 'totals'), name: 'totals' });
  try {
    assert.deepEqual(new Map(store.range().map((e) => [e.key, e.value])), want, 'every record counted exactly once');
  } finally {
    await store.close();
  }
  const counts = new Map<number, number>();
  for (const entry of await drain(client, 'counts.out')) {
    for (const r of decodeEntry(entry)) {
      const o = JSON.parse(Buffer.from(r.value).toString('utf8')) as { i: number; n: number; sum: number };
      assert.deepEqual({ n: o.n, sum: o.sum }, prefix.get(o.i), `record ${o.i} computed from the state just before it`);
      counts.set(o.i, (counts.get(o.i) ?? 0) + 1);
    }
  }
  const missing = Array.from({ length: N }, (_, i) => i).filter((i) => !counts.has(i));
  const outputs = [...counts.values()].reduce((a, b) => a + b, 0);
  t.diagnostic(`${outputs} outputs for ${N} records, ${outputs - counts.size} written twice (a write retried after its reply was lost), ` +
    `${summary.sources.orders.duplicates ?? 0} redelivered entries dropped`);
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} records lost`);
  assert.deepEqual(await drain(client, 'orders.dlq').catch(() => []), [], 'nothing dead-lettered');
  assert.equal((await drain(client, 'orders')).length, 0, 'the source is drained');
});
