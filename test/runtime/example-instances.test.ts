// run-tests: own process: long (20 s or more on 2 cores): started with the first, not last
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { inspectStore } from '../../src/state/index.js';
import { harness, type Harness } from './harness.js';
import { cli, type CliRun } from './partitioned-state-helpers.js';

// The bundled example (topology.yaml, its four processors) with `partitions: 4`
// on its source and its revenue store, run as several `walrus-stream run`
// processes with their own stateDirs against one node (issue: scale beyond one
// machine). `parse` re-keys every order by customer, so orders reach `revenue`
// through a repartition topic: each customer is counted by exactly one instance.

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const repo = fileURLToPath(new URL('../..', import.meta.url));
const SAMPLE = join(repo, 'examples', 'orders.jsonl');

/** The example topology, its topics prefixed by `app`, with 4 partitions; one file per instance (its own stateDir). */
async function exampleTopology(app: string, stateDir: string, file: string): Promise<void> {
  const text = (await readFile(join(repo, 'topology.yaml'), 'utf8'))
    .replace(/^app: orders$/m, `app: ${app}`)
    .replace(/^stateDir: .*$/m, `stateDir: ${stateDir}`)
    .replace(/^workers: auto$/m, 'workers: 1')
    .replace(/^cluster:\n(?:[ #].*\n|\n)*?(?=^sources:)/m, '')
    .replaceAll('./processors/', `${join(repo, 'processors')}/`)
    .replace(/^ {4}topic: orders$/m, `    topic: ${app}-orders\n    partitions: 4`)
    .replace(/deadLetter: orders\.dlq/, `deadLetter: ${app}-orders.dlq`)
    .replaceAll(/topic: orders\.(accepted|review|revenue)$/gm, `topic: ${app}-orders.$1`)
    .replace(/^ {2}revenue: \{\} .*$/m, '  revenue: { partitions: 4, fsync: never }');
  assert.match(text, /partitions: 4\n/);
  assert.match(text, /revenue: \{ partitions: 4/);
  await writeFile(file, text);
}

/** Orders of the bundled sample, keyless lines spread round-robin over the 4 partitions (as any producer would). */
async function produceSample(app: string, lines: string[]): Promise<void> {
  const r = await cli(['produce', `${app}-orders`, '--partitions', '4', '--format', 'text', '--plain', '--nodes', h.broker.address], { stdin: `${lines.join('\n')}\n` });
  assert.equal(r.code, 0, r.stderr);
}

/** The first 1,000 orders of the sample (it has 2,000): every customer, a few malformed lines, half the run time. */
const sampleLines = async () => (await readFile(SAMPLE, 'utf8')).split('\n').filter((l) => l.trim() !== '').slice(0, 1000);

/**
 * Runs instance 0..n-1 at once until idle, twice: an instance may reach idle
 * before another wrote everything for its repartition partitions, so a second
 * round picks that up (docs/scaling.md, "Repartition topics").
 */
async function runInstances(files: string[], n: number, env: Array<Record<string, string>> = []): Promise<CliRun[]> {
  const round = () => Promise.all(files.slice(0, n).map((file, i) =>
    cli(['run', file, '--nodes', h.broker.address, '--until-idle', '--instances', String(n), '--instance', String(i)], { env: env[i] })));
  const first = await round();
  for (const [i, r] of first.entries()) if (env[i] === undefined) assert.equal(r.code, 0, `instance ${i}: ${r.stderr}`);
  const second = await round();
  for (const [i, r] of second.entries()) assert.equal(r.code, 0, `instance ${i} (second round): ${r.stderr}`);
  return first;
}

/** The revenue store entries an instance holds: the partitions it owned at its last start. */
async function revenueOf(stateDir: string, app: string, instance: number): Promise<Map<string, unknown>> {
  const record = JSON.parse(await readFile(join(stateDir, app, 'instances', String(instance), 'partitions.json'), 'utf8')) as { stores: Record<string, { owned: number[] }> };
  const out = new Map<string, unknown>();
  for (const p of record.stores.revenue!.owned) {
    const dir = join(stateDir, app, 'state', 'revenue', `p${p}`);
    if (!existsSync(dir)) continue;
    for (const { key, value } of (await inspectStore(dir, 'revenue')).entries) out.set(key, value);
  }
  return out;
}

/** Every instance's revenue entries in one map; fails naming a key two instances hold. */
function union(parts: Array<Map<string, unknown>>): Array<[string, unknown]> {
  const all = new Map<string, unknown>();
  for (const [i, part] of parts.entries()) {
    for (const [key, value] of part) {
      assert.ok(!all.has(key), `key ${key} is held by two instances (the second: instance ${i})`);
      all.set(key, value);
    }
  }
  return [...all].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const customerOf = (storeKey: string) => storeKey.slice(0, storeKey.indexOf('@'));

type Revenue = { customerId: string; from: string; orders: number; final: boolean };

test('the bundled example with partitions: 4 as 3 instances: per-customer order, the union of the revenue stores equals one instance\'s, no customer in two; the same with one instance killed (SIGKILL) and restarted', { timeout: 150_000 }, async () => {
  const lines = await sampleLines();
  // One instance: the reference.
  const single = join(h.stateDir, 'ex1');
  await exampleTopology('ex1', single, join(h.stateDir, 'ex1.yaml'));
  await produceSample('ex1', lines);
  await runInstances([join(h.stateDir, 'ex1.yaml')], 1);
  const reference = union([await revenueOf(single, 'ex1', 0)]);
  assert.ok(reference.length > 100, `the reference run kept windows (${reference.length} entries)`);

  // Three instances.
  const dirs = [0, 1, 2].map((i) => join(h.stateDir, `ex3-${i}`));
  const files = dirs.map((_, i) => join(h.stateDir, `ex3-${i}.yaml`));
  for (const [i, file] of files.entries()) await exampleTopology('ex3', dirs[i]!, file);
  await produceSample('ex3', lines);
  await runInstances(files, 3);
  const parts = await Promise.all(dirs.map((dir, i) => revenueOf(dir, 'ex3', i)));
  for (const [i, part] of parts.entries()) {
    assert.ok(part.size > 0, `instance ${i} counted some customers`);
    for (const key of part.keys()) assert.equal(partitionOfKey(customerOf(key), 4) % 3, i, `${key} is held by the owner of its customer's partition`);
  }
  assert.deepEqual(union(parts), reference, 'the three stores together equal the single-instance run');

  // Per-customer order: each window's running order count goes 1, 2, 3... in the revenue sink.
  const out = (await h.drain('ex3-orders.revenue')).map((r) => r.value as Revenue);
  assert.ok(out.length >= 950, `revenue results: ${out.length}`);
  const seen = new Map<string, number>();
  for (const r of out) {
    if (r.final) continue;
    const window = `${r.customerId}@${r.from}`;
    assert.equal(r.orders, (seen.get(window) ?? 0) + 1, `window ${window}: running counts in order, each order once`);
    seen.set(window, r.orders);
  }

  // Three instances again, one killed (SIGKILL) after its 2nd state commit (runs make few, large commits), then restarted.
  const kdirs = [0, 1, 2].map((i) => join(h.stateDir, `exk-${i}`));
  const kfiles = kdirs.map((_, i) => join(h.stateDir, `exk-${i}.yaml`));
  for (const [i, file] of kfiles.entries()) await exampleTopology('exk', kdirs[i]!, file);
  await produceSample('exk', lines);
  const first = await Promise.all(kfiles.map((file, i) => cli(['run', file, '--nodes', h.broker.address, '--until-idle', '--instances', '3', '--instance', String(i)],
    { env: i === 1 ? { WALRUS_STREAM_FAULT: 'state.committed:2' } : {} })));
  assert.equal(first[1]!.signal, 'SIGKILL', `instance 1 was killed mid-run: ${first[1]!.stderr}`);
  assert.equal(first[0]!.code, 0, first[0]!.stderr);
  assert.equal(first[2]!.code, 0, first[2]!.stderr);
  await runInstances(kfiles, 3);
  assert.deepEqual(union(await Promise.all(kdirs.map((dir, i) => revenueOf(dir, 'exk', i)))), reference, 'after the kill and restart, still exactly the single-instance state');
});

test('the bundled example with partitions: 4 goes from 2 instances to 3: the revenue partitions that moved are restored on their new owner, totals equal one instance\'s', { timeout: 150_000 }, async () => {
  const lines = await sampleLines();
  const half = Math.floor(lines.length / 2);
  const single = join(h.stateDir, 'gr1');
  await exampleTopology('gr1', single, join(h.stateDir, 'gr1.yaml'));
  await produceSample('gr1', lines);
  await runInstances([join(h.stateDir, 'gr1.yaml')], 1);
  const reference = union([await revenueOf(single, 'gr1', 0)]);

  const dirs = [0, 1, 2].map((i) => join(h.stateDir, `gr-${i}`));
  const files = dirs.map((_, i) => join(h.stateDir, `gr-${i}.yaml`));
  for (const [i, file] of files.entries()) await exampleTopology('gr', dirs[i]!, file);
  await produceSample('gr', lines.slice(0, half));
  await runInstances(files, 2);
  await produceSample('gr', lines.slice(half));
  await runInstances(files, 3);
  assert.deepEqual(union(await Promise.all(dirs.map((dir, i) => revenueOf(dir, 'gr', i)))), reference, 'after 2 → 3 instances, exactly the single-instance state');
});
