import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { fixture, harness, type Harness } from './harness.js';
import { instanceTotals, type Totals } from './partitioned-state-helpers.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(args: string[], env: Record<string, string> = {}) {
  const clean = { ...process.env };
  delete clean.WALRUS_STREAM_FAULT;
  const child = spawn(process.execPath, [bin, 'run', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...clean, ...env } });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-12_000); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => stderr, exited };
}

// Each key gets one record, so every changelog entry holds the only (final) write of its keys: an entry lost is a key lost.
const KEYS = Array.from({ length: 48 }, (_, n) => `k-${n}`);
const amount = (k: string) => Number(k.slice(2)) + 1;

test('an instance frozen (SIGSTOP) mid-restore past its lease loses nothing: its replacement restores every changelog entry, and so does the next restore after it', { timeout: 120_000 }, async () => {
  const file = join(h.stateDir, 'frz.yaml');
  await writeFile(file, `
app: frz
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: frz-in, partitions: 2, poll: { batchSize: 3, minInterval: 1ms, maxInterval: 10ms } }
processors:
  count: { module: ${fixture('state-count.ts')}, input: in, ordering: key, stores: [totals] }
stores:
  # One changelog entry per lease: the restore below freezes with several batches already read.
  totals: { partitions: 2, fsync: never, restoreBatch: 1 }
observability: { logLevel: warn }
`);
  for (const k of KEYS) await h.produce(`frz-in.p${partitionOfKey(k, 2)}`, [{ key: k, value: { k, amount: amount(k), i: 0 } }]);
  const args = [file, '--nodes', h.broker.address, '--instances', '1', '--instance', '0', '--progress-interval', '0', '--lease-ttl', '2000'];
  const expected = new Map<string, Totals>(KEYS.map((k) => [k, { n: 1, sum: amount(k) }]));
  const first = start([...args, '--until-idle'], { STATE_DIR: join(h.stateDir, 'first') });
  assert.equal((await first.exited).code, 0, first.stderr());
  assert.deepEqual(await instanceTotals(join(h.stateDir, 'first'), 'frz', 0), expected);
  // How many changelog entries the first run's commits made depends on how its batches met (fewer under load):
  // the freeze comes on the restore's 3rd batch (its 2nd when there are only 3), with batches read before it and left after it.
  const entries = (await Promise.all([0, 1].map(async (p) => (await h.client.state(`frz-totals-changelog.p${p}`)).lag ?? 0))).reduce((a, b) => a + b, 0);
  assert.ok(entries >= 3, `the changelog holds ${entries} entries`);
  const freezeAt = Math.min(3, entries - 1);

  // A new machine (empty stateDir) restores both partitions and freezes after reading changelog batch `freezeAt`.
  const frozen = start(args, { STATE_DIR: join(h.stateDir, 'frozen'), WALRUS_STREAM_FAULT: `state.restore-fetched:${freezeAt}:stop` });
  for (let waited = 0; !frozen.stderr().includes('SIGSTOP at state.restore-fetched'); waited += 20) {
    assert.ok(waited < 30_000 && frozen.child.exitCode === null, `the instance froze mid-restore: ${frozen.stderr()}`);
    await sleep(20);
  }
  try {
    // Its replacement takes the partitions once the frozen leases (2 s) expired, and restores them.
    const replacement = start([...args, '--until-idle'], { STATE_DIR: join(h.stateDir, 'replacement') });
    const done = await replacement.exited;
    assert.equal(done.code, 0, replacement.stderr());
    assert.deepEqual(await instanceTotals(join(h.stateDir, 'replacement'), 'frz', 0), expected, 'the replacement restored every entry, those the frozen instance had read too');
    assert.match(replacement.stderr(), /leased by another connection .* were released to this restore/);
  } finally {
    frozen.child.kill('SIGCONT');
  }
  // Resumed, the frozen one finds its partitions were taken and stops, writing nothing.
  const deadline = setTimeout(() => frozen.child.kill('SIGKILL'), 20_000);
  const resumed = await frozen.exited;
  clearTimeout(deadline);
  assert.equal(resumed.signal, null, 'the resumed instance stops by itself');
  assert.equal(resumed.code, 3, frozen.stderr());
  assert.match(frozen.stderr(), /OWNERSHIP_CONFLICT/);

  // The changelog still holds the whole state: yet another machine restores it all.
  const next = start([...args, '--until-idle'], { STATE_DIR: join(h.stateDir, 'next') });
  assert.equal((await next.exited).code, 0, next.stderr());
  assert.deepEqual(await instanceTotals(join(h.stateDir, 'next'), 'frz', 0), expected, 'a later restore gets every entry');
});
