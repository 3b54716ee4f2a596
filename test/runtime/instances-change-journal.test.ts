import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { fixture, harness, type Harness } from './harness.js';
import { instanceTotals, sorted, union, type Totals } from './partitioned-state-helpers.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, [bin, 'run', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-8_000); });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
}

const CUSTOMERS = Array.from({ length: 10 }, (_, n) => `customer-${n}`);
const PER_CUSTOMER = 40;
const groupOf = (k: string) => `g-${Number(k.slice(k.lastIndexOf('-') + 1)) % 3}`;

test('an instance killed with entries left in its journal is refused when it comes back under another --instances (their records would be applied to state a second time), and runs once that journal was finished under the old one: totals exact', { timeout: 120_000 }, async () => {
  const file = join(h.stateDir, 'ic.yaml');
  // A re-key (customer → group) in front of a keyed stateful step: the groups' records cross a repartition topic.
  await writeFile(file, `
app: ic
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: ic-in, partitions: 4, poll: { batchSize: 16, minInterval: 1ms, maxInterval: 20ms } }
processors:
  group: { module: ${fixture('rekey-group.ts')}, input: in, ordering: key, rekey: true }
  total: { module: ${fixture('state-group.ts')}, input: group, ordering: key, stores: [totals] }
stores:
  totals: { partitions: 4 }
observability: { logLevel: warn }
`);
  for (let p = 0; p < 4; p += 1) {
    await h.client.register(`ic-in.p${p}`);
    const records = [];
    for (let i = 0; i < PER_CUSTOMER; i += 1) for (const k of CUSTOMERS) if (partitionOfKey(k, 4) === p) records.push({ key: k, value: { k, i, amount: i + 1 } });
    if (records.length > 0) await h.produce(`ic-in.p${p}`, records, 8);
  }
  // Group g-0's repartition partition (3) is read by instance 1 of 2 and by instance 0 of 3.
  assert.equal(partitionOfKey('g-0', 4), 3);
  const args = (i: number, n: number) => [file, '--nodes', h.broker.address, '--instances', String(n), '--instance', String(i), '--progress-interval', '0', '--lease-ttl', '1000'];
  const env = (i: number) => ({ STATE_DIR: join(h.stateDir, `ic-${i}`) });

  // Instance 0 of 2 dies right after a repartition write was acknowledged: its source entries stay unreleased in its journal.
  const killed = await run(args(0, 2), { ...env(0), WALRUS_STREAM_FAULT: 'sink.acked:3' });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  // Instance 1 of 2 reads what it wrote to partition 3 (g-0) and applies it, then stops cleanly.
  const other = await run([...args(1, 2), '--until-idle'], env(1));
  assert.equal(other.code, 0, other.stderr);

  // The killed instance comes back as instance 0 of 3: it would send its journal's records again, to partition 3,
  // which it now reads itself, never having seen them — refused instead.
  const moved = await run([...args(0, 3), '--until-idle'], env(0));
  assert.equal(moved.code, 1, `refused, not run: ${moved.stderr}`);
  assert.match(moved.stderr, /PARTITION_MISMATCH: this instance's journal holds \d+ unfinished entr(y|ies) of partitioned sources, read when it last ran as instance 0 of 2 \(.*partitions\.json\); it now starts as instance 0 of 3/);
  assert.match(moved.stderr, /--instances 2 --instance 0 --until-idle/);

  // As told: the old layout finishes (instance 0 sends its journal's records again; instance 1 drops the copies), then 3 instances run.
  for (const [i, n] of [[0, 2], [1, 2], [0, 3], [1, 3], [2, 3], [0, 3], [1, 3], [2, 3]] as const) {
    const done = await run([...args(i, n), '--until-idle'], env(i));
    assert.equal(done.code, 0, done.stderr);
  }
  const expected = new Map<string, Totals>();
  for (const k of CUSTOMERS) {
    const g = expected.get(groupOf(k)) ?? { n: 0, sum: 0 };
    expected.set(groupOf(k), { n: g.n + PER_CUSTOMER, sum: g.sum + (PER_CUSTOMER * (PER_CUSTOMER + 1)) / 2 });
  }
  const parts = await Promise.all([0, 1, 2].map((i) => instanceTotals(join(h.stateDir, `ic-${i}`), 'ic', i)));
  assert.deepEqual(sorted(union(parts)), sorted(expected), 'every record applied to the state exactly once');
});
