import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Journal } from '../../src/journal/index.js';
import { WalrusClient } from '../../src/client/index.js';
import { KeyValueStore, changelogTopic, storeDir } from '../../src/state/index.js';
import { startTestBroker } from '../helpers/broker.js';
import { tempDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/pipeline-child.ts', import.meta.url));
const N = 1_200;
const CUSTOMERS = 6;

function runChild(dir: string, address: string, killAfterMs?: number): Promise<{ done: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, address], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (killAfterMs !== undefined && timer === undefined) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    // A child that hangs must fail the test, not keep it (and the runner) alive.
    const deadline = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(deadline);
      if (signal === null && code !== 0) return reject(new Error(`child failed (${code}): ${err}`));
      resolve({ done: out.split('\n').includes('done') });
    });
  });
}

const order = (i: number) => ({ i, customer: `cust-${(i * 5) % CUSTOMERS}`, amount: (i % 7) + 1 });

test('journal + store + changelog on a real node: kill -9 at random points, exact totals, outputs at least once, identical restore', { timeout: 120_000 }, async (t) => {
  const node = await startTestBroker();
  const { dir, cleanup } = await tempDir('ws-state-pipeline-');
  t.after(async () => { await node.close(); await cleanup(); });

  // The records as the runtime would have journaled them after fetching.
  const journal = await Journal.open({ dir: join(dir, 'journal') });
  await journal.append(Array.from({ length: N }, (_, i) => ({ source: 'orders', entry: Buffer.from(JSON.stringify(order(i))) })));
  await journal.close();

  let kills = 0;
  for (let round = 0; round < 3; round++) {
    const run = await runChild(dir, node.address, 20 + Math.floor(Math.random() * 150));
    if (!run.done) kills++;
    else break;
  }
  assert.equal((await runChild(dir, node.address)).done, true);
  assert.ok(kills > 0, 'at least one run was killed');

  const expected = new Map<string, { n: number; sum: number }>();
  for (let i = 0; i < N; i++) {
    const o = order(i);
    const e = expected.get(o.customer) ?? { n: 0, sum: 0 };
    expected.set(o.customer, { n: e.n + 1, sum: e.sum + o.amount });
  }
  const store = await KeyValueStore.open({ dir: storeDir(join(dir, 'state'), 'shop', 'totals'), name: 'totals' });
  const final = store.range().map((e) => [e.key, e.value]);
  await store.close();
  assert.deepEqual(Object.fromEntries(final), Object.fromEntries(expected), 'each order counted exactly once');

  const client = new WalrusClient({ nodes: [node.address] });
  t.after(() => client.close());
  // Every order produced its output at least once (duplicates only for records in flight at a kill).
  const outputs = new Set<number>();
  for (let batch = await client.getMany('shop-totals', 2000); batch.length > 0; batch = await client.getMany('shop-totals', 2000)) {
    for (const b of batch) outputs.add((JSON.parse(b.toString()) as { i: number }).i);
  }
  assert.equal(outputs.size, N);

  // A new machine: an empty state dir restored from the changelog on the node has the same state.
  const fresh = await KeyValueStore.open({ dir: join(dir, 'elsewhere'), name: 'totals' });
  const report = await fresh.restoreFromChangelog(() => client.getMany(changelogTopic('shop', 'totals'), 2000));
  assert.deepEqual(fresh.range().map((e) => [e.key, e.value]), final);
  assert.equal(report.skipped, 0);
  await fresh.close();
});
