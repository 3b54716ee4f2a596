import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { fixture, harness, type Harness } from './harness.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

/** Runs the CLI as a real process; resolves with its exit code and output. */
function cli(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c; });
  child.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4_000); });
  child.stdin.end(stdin ?? '');
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

const KEYS = Array.from({ length: 10 }, (_, k) => `customer-${k}`);
const PER_KEY = 60;

test('a partitioned source produced by key, run as 2 instances: every record once, each key in one instance, per-key order kept', { timeout: 120_000 }, async () => {
  const file = join(h.stateDir, 'partitioned.yaml');
  await writeFile(file, `
app: parts
stateDir: ${h.stateDir}
workers: 1
sources:
  in: { topic: in, partitions: 4, poll: { batchSize: 8, minInterval: 1ms, maxInterval: 10ms } }
processors:
  tag: { module: ${fixture('pid-tag.ts')}, input: in, ordering: key, concurrency: 4 }
sinks:
  out: { topic: out, partitions: 2, input: tag, batch: { linger: 1ms } }
observability: { logLevel: warn }
`);
  const lines: string[] = [];
  for (let i = 0; i < PER_KEY; i += 1) for (const k of KEYS) lines.push(JSON.stringify({ k, i }));
  const produced = await cli(['produce', 'in', '--partitions', '4', '--format', 'json', '--key-field', 'k', '--nodes', h.broker.address], `${lines.join('\n')}\n`);
  assert.equal(produced.code, 0, produced.stderr);
  // The CLI wrote the partition topics (entries hold many records; the counts per instance below check the routing).
  for (let p = 0; p < 4; p += 1) {
    const used = KEYS.some((k) => partitionOfKey(k, 4) === p);
    assert.equal(((await h.client.state(`in.p${p}`)).lag ?? 0) > 0, used, `in.p${p}`);
  }

  const common = [ 'run', file, '--nodes', h.broker.address, '--json', '--until-idle', '--instances', '2'];
  const [a, b] = await Promise.all([cli([...common, '--instance', '0']), cli([...common, '--instance', '1'])]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const counts = [a, b].map((r) => (JSON.parse(r.stdout) as { sources: { in: { records: number } } }).sources.in.records);
  const ownedBy = (k: string) => partitionOfKey(k, 4) % 2;
  const expected = [0, 1].map((i) => KEYS.filter((k) => ownedBy(k) === i).length * PER_KEY);
  assert.deepEqual(counts, expected, 'instance i read exactly the records of partitions p % 2 === i');

  const consumed = await cli(['consume', 'out', '--partitions', '2', '--format', 'json', '--nodes', h.broker.address]);
  assert.equal(consumed.code, 0, consumed.stderr);
  const out = consumed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string; value: { k: string; i: number; pid: number } });
  assert.equal(out.length, KEYS.length * PER_KEY, 'every record exactly once');
  const pids = new Map<string, Set<number>>();
  const seqs = new Map<string, number[]>();
  for (const r of out) {
    assert.equal(r.key, r.value.k, 'the key travels with the record');
    (pids.get(r.key) ?? pids.set(r.key, new Set()).get(r.key)!).add(r.value.pid);
    (seqs.get(r.key) ?? seqs.set(r.key, []).get(r.key)!).push(r.value.i);
  }
  const instancePids = new Set<number>();
  for (const k of KEYS) {
    assert.equal(pids.get(k)?.size, 1, `key ${k} was processed by one instance`);
    instancePids.add([...pids.get(k)!][0]!);
    assert.deepEqual(seqs.get(k), Array.from({ length: PER_KEY }, (_, i) => i), `key ${k}: every record once, in order`);
  }
  assert.equal(instancePids.size, 2, 'both instances processed keys');
});

test('a stateful topology is refused with --instances 2 unless its stores are partitioned like its source', { timeout: 60_000 }, async () => {
  const file = join(h.stateDir, 'stateful.yaml');
  const topology = (storeParts: number) => `
app: st
stateDir: ${h.stateDir}
sources:
  in: { topic: st-in, partitions: 4 }
processors:
  count: { module: ${fixture('state-count.ts')}, input: in, ordering: key, stores: [totals] }
stores:
  totals: { partitions: ${storeParts} }
`;
  await writeFile(file, topology(1));
  const refused = await cli(['run', file, '--nodes', h.broker.address, '--until-idle', '--instances', '2', '--instance', '1']);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /processor "count" keeps state \(stores totals\) and runs as 2 instances, but store "totals" has partitions: 1 while its source "in" has 4/);
  await writeFile(file, topology(4));
  const ran = await cli(['run', file, '--nodes', h.broker.address, '--until-idle', '--instances', '2', '--instance', '1']);
  assert.equal(ran.code, 0, ran.stderr);
});
