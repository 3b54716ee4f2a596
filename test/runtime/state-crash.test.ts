import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { fixture, harness } from './harness.js';
import { countOrder as order, expectedCounts } from '../helpers/state-count.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const N = 3_000;

/** One `walrus-stream run` process; SIGKILLed after `killAfterMs` when given. */
function run(topology: string, address: string, killAfterMs?: number): Promise<{ killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'run', topology, '--nodes', address, '--until-idle', '--workers', '2', '--progress-interval', '0'],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const killer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    // A hung child fails the test instead of keeping the runner alive.
    const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      clearTimeout(deadline);
      if (signal === 'SIGKILL') return resolve({ killed: true });
      if (code !== 0) return reject(new Error(`run exited ${code} (${signal}): ${err}`));
      resolve({ killed: false });
    });
  });
}

test('kill -9 of `run` at random points, then restart: state has every update exactly once, every output was computed from the state just before its record', { timeout: 180_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: crashy
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
sources:
  # Paced, so the kills land while records are processed however fast the machine is (3,000 records ≈ 3 s).
  orders: { topic: orders, poll: { batchSize: 50 }, rateLimit: 1000 }
processors:
  count:
    module: ${JSON.stringify(fixture('state-count.ts'))}
    input: orders
    ordering: key
    stores: [totals]
    batchSize: 8
sinks:
  out: { topic: counts.out, input: count, batch: { maxRecords: 20 } }
stores:
  totals: {}
`);
  await h.produce('orders', Array.from({ length: N }, (_, i) => order(i)), 3);

  let kills = 0;
  for (let round = 0; round < 4; round++) {
    // Start-up (tsx, workers, stores) takes about a second; kill somewhere in the processing after it.
    const { killed } = await run(file, h.broker.address, 900 + Math.floor(Math.random() * 1_500));
    if (!killed) break;
    kills += 1;
  }
  assert.equal((await run(file, h.broker.address)).killed, false);
  t.diagnostic(`killed ${kills} times`);
  assert.ok(kills > 0, 'at least one run was killed');

  // The state: every record counted exactly once.
  const { totals: want, prefix } = expectedCounts(N); // per record: its key's totals including it
  const store = await KeyValueStore.open({ dir: storeDir(join(h.stateDir, 'state'), 'crashy', 'totals'), name: 'totals' });
  try {
    assert.deepEqual(new Map(store.range().map((e) => [e.key, e.value])), want);
  } finally {
    await store.close();
  }

  // The outputs: every record at least once, and each copy computed from the
  // state as it was before that record (a double-applied update would show
  // as a count one too high).
  const outputs = (await h.drain('counts.out')).map((o) => o.value as { i: number; n: number; sum: number });
  const seen = new Set<number>();
  for (const o of outputs) {
    assert.deepEqual({ n: o.n, sum: o.sum }, prefix.get(o.i), `record ${o.i}`);
    seen.add(o.i);
  }
  assert.equal(seen.size, N, 'every record produced its output');
  t.diagnostic(`${outputs.length - N} duplicate outputs (at-least-once)`);
});
