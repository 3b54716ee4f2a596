import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { fixture, harness, type Harness } from './harness.js';
import { instanceTotals, writeTopology } from './partitioned-state-helpers.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run { child: ChildProcess; stderr(): string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> }

function start(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, [bin, 'run', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-8_000); });
  return { child, stderr: () => stderr, exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr }))) };
}

/** Keys of partition 0 of 2: instance 0 of 2 owns all of them. */
const KEYS = Array.from({ length: 40 }, (_, n) => `customer-${n}`).filter((k) => partitionOfKey(k, 2) === 0).slice(0, 4);

test('an instance frozen (SIGSTOP) past its ownership lease, then resumed while its replacement runs, writes nothing more: no output or state from a stale owner', { timeout: 120_000 }, async () => {
  const file = join(h.stateDir, 'fz.yaml');
  await writeFile(file, `
app: fz
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: fz-in, partitions: 2, poll: { batchSize: 4, minInterval: 1ms, maxInterval: 10ms } }
processors:
  total: { module: ${fixture('state-group.ts')}, input: in, ordering: key, stores: [totals] }
stores:
  totals: { partitions: 2 }
sinks:
  out: { topic: fz-out, input: total, batch: { linger: 1ms } }
observability: { logLevel: warn }
`);
  for (let p = 0; p < 2; p += 1) await h.client.register(`fz-in.p${p}`);
  // A steady stream: one record per key every 20 ms, numbered per key.
  let producing = true;
  let sent = 0;
  const producer = (async () => {
    for (let i = 0; producing; i += 1) {
      await h.produce('fz-in.p0', KEYS.map((k) => ({ key: k, value: { k, i, amount: 1 } })));
      sent = i + 1;
      await sleep(20);
    }
  })();
  // Leases of 2 s (--lease-ttl; 5 s by default): the freeze below only has to outlast that.
  const args = [file, '--nodes', h.broker.address, '--instances', '2', '--instance', '0', '--progress-interval', '0', '--lease-ttl', '2000'];
  const a = start(args, { STATE_DIR: join(h.stateDir, 'fz-a') });
  await sleep(3_000);
  assert.equal(a.child.exitCode, null, a.stderr());
  a.child.kill('SIGSTOP');
  const frozenAt = sent;
  // A replacement (another machine: its own stateDir) takes the partitions once the frozen lease expires.
  const b = start(args, { STATE_DIR: join(h.stateDir, 'fz-b') });
  await sleep(5_000);
  assert.equal(b.child.exitCode, null, b.stderr());
  assert.ok(sent > frozenAt + 50, 'the stream went on');
  const beforeResume = await h.drain('fz-out');
  a.child.kill('SIGCONT');
  const resumed = await Promise.race([a.exited, sleep(20_000).then(() => undefined)]);
  producing = false;
  await producer;
  await sleep(2_000);
  b.child.kill('SIGTERM');
  const bExit = await b.exited;
  assert.equal(bExit.code, 143, bExit.stderr);
  assert.ok(resumed, 'the resumed instance stops by itself');
  assert.equal(resumed.code, 3, resumed.stderr);
  assert.match(resumed.stderr, /OWNERSHIP_CONFLICT: ownership of partition topic "fz-in\.p0" was lost to fz\/0\/[0-9a-f]{8} .*had not renewed its lease for \d+\.\d s, longer than its 2\.0 s time to live/);
  const afterResume = await h.drain('fz-out');
  const stale = afterResume.filter((r) => (r.value as { pid: number }).pid === a.child.pid);
  assert.deepEqual(stale, [], 'the resumed instance wrote no output once its lease had lapsed');

  // The frozen instance restarted on its stateDir once the replacement stopped: what it had read but
  // not finished is processed, against its partition restored from the changelog, not its stale copy.
  const again = await start([...args, '--until-idle'], { STATE_DIR: join(h.stateDir, 'fz-a') }).exited;
  assert.equal(again.code, 0, again.stderr);
  const out = [...beforeResume, ...afterResume, ...await h.drain('fz-out')].map((r) => r.value as { k: string; i: number });
  for (const k of KEYS) {
    const seen = new Set(out.filter((o) => o.k === k).map((o) => o.i));
    for (let i = 0; i < sent; i += 1) assert.ok(seen.has(i), `${k} record ${i} processed`);
  }
  const totals = await instanceTotals(join(h.stateDir, 'fz-a'), 'fz', 0);
  assert.deepEqual(KEYS.map((k) => [k, totals.get(k)?.n]), KEYS.map((k) => [k, sent]), 'every record applied to the state once');
});

test('an instance frozen past its lease that nobody took over goes on where it was after SIGCONT (the renewal confirms the lease): every record applied once', { timeout: 120_000 }, async () => {
  const dir = join(h.stateDir, 'a');
  const file = join(h.stateDir, 'fa.yaml');
  await writeTopology(file, 'fa', dir, 'fa-in', 2);
  for (let p = 0; p < 2; p += 1) await h.client.register(`fa-in.p${p}`);
  const child = spawn(process.execPath, [bin, 'run', file, '--nodes', h.broker.address, '--instances', '1', '--instance', '0', '--shutdown-timeout', '3000', '--lease-ttl', '2000'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c; });
  const put = async (from: number) => { for (let i = from; i < from + 20; i += 1) await h.produce(`fa-in.p${partitionOfKey('k1', 2)}`, [{ key: 'k1', value: { amount: 1, i } }]); };
  await sleep(2500);
  await put(0);
  child.kill('SIGSTOP');
  await put(20);
  await sleep(4000); // twice the lease's time to live
  child.kill('SIGCONT');
  await put(40);
  await sleep(3000);
  assert.equal(child.exitCode, null, stderr);
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 143, stderr);
  const totals = await instanceTotals(dir, 'fa', 0);
  assert.equal(totals.get('k1')?.n, 60, stderr);
});
