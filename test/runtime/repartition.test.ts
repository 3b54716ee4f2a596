// run-tests: own process: long (20 s or more on 2 cores): started with the first, not last
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { fixture, harness, type Harness } from './harness.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

interface Run { child: ChildProcess; stderr(): string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> }

/** Starts `walrus-stream run` as a real process with `env` added. */
function start(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [bin, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => { stdout += c; });
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-6_000); });
  return { child, stderr: () => stderr, exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }))) };
}

const CUSTOMERS = Array.from({ length: 10 }, (_, n) => `customer-${n}`);
const PER_CUSTOMER = 40;
const groupOf = (k: string) => `g-${Number(k.slice(k.lastIndexOf('-') + 1)) % 3}`;

/** A re-key (customer → group) in front of a keyed stateful step; 4 partitions everywhere. */
async function topology(app: string): Promise<string> {
  const file = join(h.stateDir, `${app}.yaml`);
  await writeFile(file, `
app: ${app}
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: ${app}-in, partitions: 4, poll: { batchSize: 16, minInterval: 1ms, maxInterval: 20ms } }
processors:
  group: { module: ${fixture('rekey-group.ts')}, input: in, ordering: key, rekey: true }
  total: { module: ${fixture('state-group.ts')}, input: group, ordering: key, stores: [totals] }
stores:
  totals: { partitions: 4 }
sinks:
  out: { topic: ${app}-out, input: total, batch: { linger: 1ms } }
observability: { logLevel: warn }
`);
  return file;
}

/** Every customer's records, in order, each into the source partition of its key. */
async function produce(app: string): Promise<void> {
  const byPartition = new Map<number, Array<{ key: string; value: unknown }>>();
  for (let i = 0; i < PER_CUSTOMER; i += 1) {
    for (const k of CUSTOMERS) {
      const p = partitionOfKey(k, 4);
      (byPartition.get(p) ?? byPartition.set(p, []).get(p)!).push({ key: k, value: { k, i, amount: i + 1 } });
    }
  }
  for (let p = 0; p < 4; p += 1) {
    await h.client.register(`${app}-in.p${p}`);
    if (byPartition.has(p)) await h.produce(`${app}-in.p${p}`, byPartition.get(p)!, 8);
  }
}

type Out = { key: string; value: { key: string; k: string; i: number; n: number; sum: number; pid: number; rekeyedBy: number } };

/** Reads `topic` until `count` records arrived, `ms` passed or every run exited. */
async function collect(topic: string, count: number, ms: number, runs: Run[] = []): Promise<Out[]> {
  const out: Out[] = [];
  const until = Date.now() + ms;
  let exited = 0;
  for (const r of runs) void r.exited.then(() => { exited += 1; });
  while (out.length < count && Date.now() < until && (runs.length === 0 || exited < runs.length)) {
    out.push(...(await h.drain(topic)) as Out[]);
    if (out.length < count) await new Promise((r) => setTimeout(r, 100));
  }
  return out;
}

/** Final count and sum per group key. */
function totals(out: Out[]): Record<string, { n: number; sum: number }> {
  const t: Record<string, { n: number; sum: number }> = {};
  for (const r of out) if ((t[r.key]?.n ?? 0) < r.value.n) t[r.key] = { n: r.value.n, sum: r.value.sum };
  return t;
}

test('a re-key before a keyed stateful step, 4 partitions, 3 instances: every key in one instance, in order, exactly once; totals equal one instance\'s', { timeout: 90_000 }, async () => {
  const total = CUSTOMERS.length * PER_CUSTOMER;
  await produce('rp3');
  for (const app of ['rp3', 'rp1']) await h.client.register(`${app}-out`);
  const file = await topology('rp3');
  const runs = [0, 1, 2].map((i) => start([file, '--nodes', h.broker.address, '--instances', '3', '--instance', String(i), '--progress-interval', '0', '--json'],
    { STATE_DIR: join(h.stateDir, `rp3-${i}`) }));
  let out: Out[];
  try {
    out = await collect('rp3-out', total, 45_000, runs);
  } finally {
    for (const r of runs) r.child.kill('SIGTERM');
  }
  const ended = await Promise.all(runs.map((r) => r.exited));
  for (const e of ended) assert.equal(e.code, 143, e.stderr);
  assert.equal(out.length, total, 'every record reached the stateful step exactly once');

  const pids = new Map<string, Set<number>>();
  const ns = new Map<string, number[]>();
  const order = new Map<string, number[]>();
  const rekeyers = new Set<number>();
  for (const r of out) {
    assert.equal(r.key, groupOf(r.value.k), 'records arrive under their new key');
    (pids.get(r.key) ?? pids.set(r.key, new Set()).get(r.key)!).add(r.value.pid);
    (ns.get(r.key) ?? ns.set(r.key, []).get(r.key)!).push(r.value.n);
    (order.get(r.value.k) ?? order.set(r.value.k, []).get(r.value.k)!).push(r.value.i);
    rekeyers.add(r.value.rekeyedBy);
  }
  for (const [key, set] of pids) assert.equal(set.size, 1, `group ${key} was processed by one instance`);
  const owners = new Set([...pids.values()].map((s) => [...s][0]));
  const expectedOwners = new Set(['g-0', 'g-1', 'g-2'].map((g) => partitionOfKey(g, 4) % 3));
  assert.equal(owners.size, expectedOwners.size, 'each group is processed by the instance owning its repartition partition');
  assert.equal(rekeyers.size, 3, 'every instance re-keyed the customers of its own source partitions');
  for (const [key, list] of ns) assert.deepEqual(list, Array.from({ length: list.length }, (_, j) => j + 1), `group ${key}: running count 1, 2, 3, … (each record once, in order)`);
  for (const k of CUSTOMERS) assert.deepEqual(order.get(k), Array.from({ length: PER_CUSTOMER }, (_, i) => i), `${k}: in order`);

  // The same data through one instance.
  await produce('rp1');
  const single = start([await topology('rp1'), '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0', '--json'], { STATE_DIR: join(h.stateDir, 'rp1') });
  const done = await single.exited;
  assert.equal(done.code, 0, done.stderr);
  const summary = JSON.parse(done.stdout) as { sources: Record<string, { records: number }>; sinks: Record<string, { records: number }> };
  assert.equal(summary.sources['repartition:group']?.records, total, 'the summary shows the repartition topic as an internal source');
  const one = await collect('rp1-out', total, 10_000);
  assert.equal(one.length, total);
  assert.deepEqual(totals(out), totals(one), 'the state totals equal a single-instance run');
});

test('the writer killed after a repartition write was acknowledged sends it again on restart: the copy is dropped, nothing is counted twice', { timeout: 90_000 }, async () => {
  const total = CUSTOMERS.length * PER_CUSTOMER;
  await produce('rpk');
  await h.client.register('rpk-out');
  const file = await topology('rpk');
  const env = { STATE_DIR: join(h.stateDir, 'rpk') };
  const args = [file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0', '--json'];
  // The 3rd acknowledged sink write is a repartition write (nothing reaches `out` before the repartition is read back).
  const killed = await start(args, { ...env, WALRUS_STREAM_FAULT: 'sink.acked:3' }).exited;
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  assert.match(killed.stderr, /WALRUS_STREAM_FAULT: SIGKILL at sink\.acked/);
  // The killed run left re-keyed records unread in the repartition topic. Without its re-key the topology
  // would never read them again: that start is refused, naming the topic (before, they were stranded).
  const lags = await Promise.all([0, 1, 2, 3].map(async (p) => (await h.client.state(`rpk-group-repartition.p${p}`)).lag ?? 0));
  assert.ok(lags.some((n) => n > 0), `the repartition topic holds unread entries: ${lags}`);
  const withoutRekey = join(h.stateDir, 'rpk-no-rekey.yaml');
  await writeFile(withoutRekey, (await readFile(file, 'utf8')).replace('ordering: key, rekey: true }', 'ordering: key }'));
  const refused = await start([withoutRekey, ...args.slice(1)], env).exited;
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /PARTITION_MISMATCH: processors\.group: topic "rpk-group-repartition\.p\d" holds \d+ unread entr(y|ies), but this topology no longer re-keys through it .*Run the earlier topology once more with --until-idle/s);
  // Renamed, the processor's old repartition topic is one no name in the topology leads to: the stateDir
  // remembers it (repartition-topics.json, written by the killed run's start), so this start is refused too.
  const remembered = JSON.parse(await readFile(join(env.STATE_DIR, 'rpk', 'repartition-topics.json'), 'utf8')) as { topics: string[] };
  assert.deepEqual(remembered.topics, ['rpk-group-repartition']);
  const renamed = join(h.stateDir, 'rpk-renamed.yaml');
  await writeFile(renamed, (await readFile(file, 'utf8')).replace('  group: {', '  grouped: {').replace('input: group,', 'input: grouped,'));
  const refusedRenamed = await start([renamed, ...args.slice(1)], env).exited;
  assert.equal(refusedRenamed.code, 1, refusedRenamed.stderr);
  assert.match(refusedRenamed.stderr, /PARTITION_MISMATCH: repartition topic "rpk-group-repartition" \(remembered from an earlier run in .*repartition-topics\.json\): topic "rpk-group-repartition\.p\d" holds \d+ unread entr(y|ies), but no processor of this topology writes it any more \(the processor that re-keyed into it was renamed or removed\).*Run the earlier topology once more with --until-idle/s);
  // A fresh stateDir has no such memory: the renamed topology would start (and strand those records), which is why the file is kept.
  const resumed = await start(args, env).exited;
  assert.equal(resumed.code, 0, resumed.stderr);
  const summary = JSON.parse(resumed.stdout) as { recovered: number; sources: Record<string, { records: number; duplicates?: number }> };
  assert.ok(summary.recovered > 0, 'the restart processed the unreleased source entries again');
  assert.ok((summary.sources['repartition:group']?.duplicates ?? 0) > 0, 're-sent repartition records were recognised and dropped');
  const out = await collect('rpk-out', total, 5_000);
  const expected: Record<string, { n: number; sum: number }> = {};
  for (const k of CUSTOMERS) {
    const g = expected[groupOf(k)] ??= { n: 0, sum: 0 };
    g.n += PER_CUSTOMER;
    g.sum += (PER_CUSTOMER * (PER_CUSTOMER + 1)) / 2;
  }
  assert.deepEqual(totals(out), expected, 'every record applied to the state exactly once');
  // Finished, the old topic holds nothing unread: the renamed topology starts, and the memory moves to its own topic.
  const renamedRun = await start([renamed, ...args.slice(1)], env).exited;
  assert.equal(renamedRun.code, 0, renamedRun.stderr);
  const after = JSON.parse(await readFile(join(env.STATE_DIR, 'rpk', 'repartition-topics.json'), 'utf8')) as { topics: string[] };
  assert.deepEqual(after.topics, ['rpk-grouped-repartition'], 'the finished topic is forgotten, the renamed one remembered');
});

test('ownership leases: a second live process with an index already running is refused; after a kill -9 its lease expires and the restart runs', { timeout: 90_000 }, async () => {
  const file = join(h.stateDir, 'lz.yaml');
  await writeFile(file, `
app: lz
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: lz-in, partitions: 4, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  tag: { module: ${fixture('pid-tag.ts')}, input: in }
observability: { logLevel: warn }
`);
  for (let p = 0; p < 4; p += 1) await h.client.register(`lz-in.p${p}`);
  // 1 s leases (--lease-ttl): the refused start and the restart after kill -9 each wait for one to run out.
  const args = [file, '--nodes', h.broker.address, '--instances', '2', '--instance', '1', '--json', '--lease-ttl', '1000'];
  const first = start([...args, '--progress-interval', '200'], { STATE_DIR: join(h.stateDir, 'lz-a') });
  // Its first progress line: the pipeline runs, so its partitions are claimed.
  const until = Date.now() + 30_000;
  while (!first.stderr().includes('"type":"progress"')) {
    assert.ok(Date.now() < until && first.child.exitCode === null, `the first instance runs: ${first.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await assert.rejects(h.client.claim('lz-in.p3', 'test/probe', 100), /OWNERSHIP_CONFLICT|owned|claimed by lz\/1\//, 'it holds the partitions of instance 1');
  const refused = await start([...args, '--progress-interval', '0'], { STATE_DIR: join(h.stateDir, 'lz-b') }).exited;
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /OWNERSHIP_CONFLICT.*partition topic "lz-in\.p[13]" is owned by another live process \(lz\/1\/[0-9a-f]{8}/);
  assert.equal(first.child.exitCode, null, 'the first instance keeps running');

  first.child.kill('SIGKILL');
  await first.exited;
  const restarted = await start([...args, '--until-idle', '--progress-interval', '0'], { STATE_DIR: join(h.stateDir, 'lz-b') }).exited;
  assert.equal(restarted.code, 0, restarted.stderr);

  // A stock node cannot tell: one warning line, and the run goes on.
  const { startTestBroker } = await import('../helpers/broker.js');
  const stock = await startTestBroker({ compat: 'stock' });
  try {
    const ran = await start([file, '--nodes', stock.address, '--instances', '2', '--instance', '0', '--until-idle', '--progress-interval', '0', '--json'], { STATE_DIR: join(h.stateDir, 'lz-s') }).exited;
    assert.equal(ran.code, 0, ran.stderr);
    const warnings = ran.stderr.split('\n').filter((l) => l.includes('ownership leases'));
    assert.equal(warnings.length, 1, ran.stderr);
    assert.match(warnings[0]!, /^walrus-stream run: warning: the node does not offer ownership leases \(a stock Walrus node\): nothing stops two live instances/);
  } finally {
    await stock.close();
  }
});

test('a dead letter after a repartition holds the re-keyed record (no internal origin) and names the repartition topic; replayed there, it runs again', { timeout: 60_000 }, async () => {
  const yaml = `
app: dl
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: dl-in, partitions: 2 }
processors:
  group: { module: ./rekey-group.ts, input: in, rekey: true }
  check: { module: ./flaky.ts, input: group, ordering: key, deadLetter: dl-failed }
sinks:
  ok: { topic: dl-ok, input: check, partitions: 2 }
  tap: { topic: dl-tap, input: group }
observability: { logLevel: warn }
`;
  await h.client.register('dl-in.p0');
  await h.client.register('dl-in.p1');
  await h.produce(`dl-in.p${partitionOfKey('customer-4', 2)}`, [
    { key: 'customer-4', value: { k: 'customer-4', i: 0, amount: 1, n: 0 } },
    { key: 'customer-4', value: { k: 'customer-4', i: 1, amount: 1, n: 1, fatal: true } },
  ], 2);
  const summary = await h.run(yaml);
  assert.equal(summary.processors.check?.deadLettered, 1);
  const tapped = await h.drain('dl-tap');
  assert.equal(tapped.length, 2);
  for (const r of tapped) assert.equal(r.headers['walrus-origin'], undefined, 'the internal origin does not reach the topology\'s own sinks');
  const { parseDeadLetter } = await import('../../src/runtime/coordinator/dead-letter.js');
  const { decodeEntry } = await import('../../src/codec/index.js');
  const [dead] = (await h.drainEntries('dl-failed')).map(parseDeadLetter);
  assert.equal(dead?.sourceTopic, 'dl-group-repartition');
  assert.equal(dead?.key, 'g-1');
  const [record] = decodeEntry(dead!.original);
  assert.equal(record?.key, 'g-1', 'the record as re-keyed');
  assert.equal(record?.headers['walrus-origin'], undefined, 'without the internal origin header');
  // Replayed into its repartition partition, it is processed again (not dropped as a re-sent copy).
  await h.client.put(`dl-group-repartition.p${partitionOfKey('g-1', 2)}`, dead!.original);
  const again = await h.run(yaml);
  assert.equal(again.sources['repartition:group']?.records, 1);
  assert.equal(again.processors.check?.deadLettered, 1, 'it ran (and failed) again');
});

test('2 instances, one kill -9ed right after a repartition write: restarted, its re-sent records are dropped by whichever instance reads them; totals exact', { timeout: 90_000 }, async () => {
  const total = CUSTOMERS.length * PER_CUSTOMER;
  await produce('rp2');
  await h.client.register('rp2-out');
  const file = await topology('rp2');
  const args = (i: number) => [file, '--nodes', h.broker.address, '--instances', '2', '--instance', String(i), '--progress-interval', '0', '--json'];
  const env = (i: number) => ({ STATE_DIR: join(h.stateDir, `rp2-${i}`) });
  const other = start(args(1), env(1));
  const killed = await start(args(0), { ...env(0), WALRUS_STREAM_FAULT: 'sink.acked:3' }).exited;
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  // Its restart takes its partitions back once the dead process's leases expired.
  const restarted = start(args(0), env(0));
  let out: Out[];
  try {
    out = await collect('rp2-out', total, 45_000, [other, restarted]);
    // Outputs of entries a crash left unreleased may be written twice (at-least-once); wait a little for stragglers.
    await new Promise((r) => setTimeout(r, 300));
    out.push(...(await h.drain('rp2-out')) as Out[]);
  } finally {
    other.child.kill('SIGTERM');
    restarted.child.kill('SIGTERM');
  }
  const ended = await Promise.all([other.exited, restarted.exited]);
  for (const e of ended) assert.equal(e.code, 143, e.stderr);
  const duplicates = ended.map((e) => (JSON.parse(e.stdout) as { sources: Record<string, { duplicates?: number }> }).sources['repartition:group']?.duplicates ?? 0);
  assert.ok(duplicates[0]! + duplicates[1]! > 0, 're-sent repartition records were dropped');
  const expected: Record<string, { n: number; sum: number }> = {};
  for (const k of CUSTOMERS) {
    const g = expected[groupOf(k)] ??= { n: 0, sum: 0 };
    g.n += PER_CUSTOMER;
    g.sum += (PER_CUSTOMER * (PER_CUSTOMER + 1)) / 2;
  }
  assert.deepEqual(totals(out), expected, 'every record applied to the state exactly once');
  const counts = new Map<string, Set<number>>();
  for (const r of out) (counts.get(r.key) ?? counts.set(r.key, new Set()).get(r.key)!).add(r.value.n);
  for (const [key, set] of counts) assert.equal(set.size, expected[key]!.n, `group ${key}: every running count from 1 to ${expected[key]!.n}`);
});
