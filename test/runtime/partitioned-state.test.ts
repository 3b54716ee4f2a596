// run-tests: own process: long (20 s or more on 2 cores): started with the first, not last
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ownedPartitions, partitionOfKey } from '../../src/codec/partitioning.js';
import { harness, type Harness } from './harness.js';
import { cli, expectedTotals, instanceTotals, orders, ownedAtLastStart, sorted, union, writeTopology } from './partitioned-state-helpers.js';

// Per-partition state through real processes (docs/scaling.md, "Stateful topologies"): a source
// partitioned by customer, counted per customer in a store with the same 4 partitions, without a
// re-key. Each instance has its own stateDir; the node runs in this process.

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const KEYS = 40;

async function produce(topic: string, lines: ReadonlyArray<object>): Promise<void> {
  const r = await cli(['produce', topic, '--partitions', '4', '--format', 'json', '--key-field', 'k', '--nodes', h.broker.address],
    { stdin: `${lines.map((l) => JSON.stringify(l)).join('\n')}\n` });
  assert.equal(r.code, 0, r.stderr);
}

/** Runs `instances` instances of `file` at once until idle (instance i with stateDir `dirs[i]`, one topology file each). */
async function runInstances(files: string[], instances: number, env: Array<Record<string, string>> = []): Promise<void> {
  const runs = await Promise.all(files.map((file, i) => cli(['run', file, '--nodes', h.broker.address, '--until-idle', '--json', '--instances', String(instances), '--instance', String(i)], { env: env[i] })));
  for (const [i, r] of runs.entries()) assert.equal(r.code, 0, `instance ${i}: ${r.stderr}`);
}

test('3 instances with their own stateDirs: the union of their stores equals a single-instance run, no key in two instances, each partition\'s changelog its own', { timeout: 60_000 }, async () => {
  const lines = orders(KEYS, 0, 25);
  await produce('single-in', lines);
  await produce('multi-in', lines);
  const single = join(h.stateDir, 'single');
  await writeTopology(join(h.stateDir, 'single.yaml'), 'single', single, 'single-in');
  const files = [0, 1, 2].map((i) => join(h.stateDir, `multi-${i}.yaml`));
  for (const [i, file] of files.entries()) await writeTopology(file, 'multi', join(h.stateDir, `multi-${i}`), 'multi-in');

  const one = await cli(['run', join(h.stateDir, 'single.yaml'), '--nodes', h.broker.address, '--until-idle', '--json']);
  assert.equal(one.code, 0, one.stderr);
  await runInstances(files, 3);

  const expected = expectedTotals(lines);
  const alone = await instanceTotals(single, 'single');
  assert.deepEqual(await ownedAtLastStart(single, 'single'), [0, 1, 2, 3], 'one instance owns every partition');
  assert.deepEqual(sorted(alone), sorted(expected), 'the single instance counted every record once');
  const parts = await Promise.all([0, 1, 2].map((i) => instanceTotals(join(h.stateDir, `multi-${i}`), 'multi', i)));
  for (const [i, part] of parts.entries()) {
    assert.deepEqual(await ownedAtLastStart(join(h.stateDir, `multi-${i}`), 'multi', i), ownedPartitions(4, i, 3));
    for (const key of part.keys()) assert.equal(partitionOfKey(key, 4) % 3, i, `key ${key} is held by the owner of its partition`);
    // Only owned partitions have files here.
    for (let p = 0; p < 4; p += 1) assert.equal(existsSync(join(h.stateDir, `multi-${i}`, 'multi', 'state', 'totals', `p${p}`)), p % 3 === i, `instance ${i} p${p}`);
  }
  assert.deepEqual(sorted(union(parts)), sorted(alone), 'the union of the three stores equals the single-instance run');
  for (let p = 0; p < 4; p += 1) assert.ok(((await h.client.state(`multi-totals-changelog.p${p}`)).lag ?? 0) > 0, `changelog partition ${p} holds its partition's commits`);
  await assert.rejects(h.client.state('multi-totals-changelog'), { code: 'TOPIC_NOT_FOUND' }, 'nothing writes the unpartitioned changelog');
});

test('one of 3 instances is killed with SIGKILL mid-run and restarted: the union is still exact, no key in two instances', { timeout: 60_000 }, async () => {
  const lines = orders(KEYS, 0, 25);
  // Two records an entry (not the CLI's full entries), so instance 1 has many entries to commit and dies among them
  // (early: key ordering sends each key's waiting records as one run, so a run's commits are few and large).
  for (let p = 0; p < 4; p += 1) {
    await h.produce(`crash-in.p${p}`, lines.filter((l) => partitionOfKey(l.k, 4) === p).map((l) => ({ key: l.k, value: l })), 2);
  }
  const dirs = [0, 1, 2].map((i) => join(h.stateDir, `crash-${i}`));
  const files = dirs.map((_, i) => join(h.stateDir, `crash-${i}.yaml`));
  for (const [i, file] of files.entries()) await writeTopology(file, 'crash', dirs[i]!, 'crash-in');

  // Instance 1 keeps at most 8 records in flight, so by its sixth committed entry it cannot have finished its
  // ~250 records (without the bound, one large batch and one group commit could cover them all first).
  const runs = await Promise.all(files.map((file, i) => cli(['run', file, '--nodes', h.broker.address, '--until-idle', '--instances', '3', '--instance', String(i),
    ...(i === 1 ? ['--max-in-flight', '8'] : [])], { env: i === 1 ? { WALRUS_STREAM_FAULT: 'state.committed:6' } : {} })));
  assert.equal(runs[0]!.code, 0, runs[0]!.stderr);
  assert.equal(runs[2]!.code, 0, runs[2]!.stderr);
  assert.equal(runs[1]!.signal, 'SIGKILL', `instance 1 was killed mid-run: ${runs[1]!.stderr}`);
  assert.match(runs[1]!.stderr, /WALRUS_STREAM_FAULT: SIGKILL at state\.committed/);
  const killed = await instanceTotals(dirs[1]!, 'crash', 1);
  const mine = [...expectedTotals(lines).keys()].filter((k) => partitionOfKey(k, 4) % 3 === 1);
  assert.ok([...killed.values()].reduce((a, t) => a + t.n, 0) < mine.length * 25, 'it was killed before it finished its partitions');

  const again = await cli(['run', files[1]!, '--nodes', h.broker.address, '--until-idle', '--instances', '3', '--instance', '1']);
  assert.equal(again.code, 0, again.stderr);
  const parts = await Promise.all(dirs.map((dir, i) => instanceTotals(dir, 'crash', i)));
  assert.deepEqual(sorted(union(parts)), sorted(expectedTotals(lines)), 'every record counted once across the three stores');
});

test('2 instances, then 3, then 2 again: moved partitions are restored on their new owner (a stale local copy discarded), totals exact', { timeout: 90_000 }, async () => {
  const dirs = [0, 1, 2].map((i) => join(h.stateDir, `grow-${i}`));
  const files = dirs.map((_, i) => join(h.stateDir, `grow-${i}.yaml`));
  for (const [i, file] of files.entries()) await writeTopology(file, 'grow', dirs[i]!, 'grow-in');
  const total = (parts: Array<Map<string, { n: number; sum: number }>>) => sorted(union(parts));

  const first = orders(KEYS, 0, 12);
  await produce('grow-in', first);
  await runInstances(files.slice(0, 2), 2);
  assert.deepEqual(total(await Promise.all([0, 1].map((i) => instanceTotals(dirs[i]!, 'grow', i)))), sorted(expectedTotals(first)));

  // 2 → 3: p2 moves from instance 0 to 2, p3 from 1 to 0. Both are restored on their new owner before it counts more.
  const second = [...first, ...orders(KEYS, 12, 24)];
  await produce('grow-in', second.slice(first.length));
  await runInstances(files, 3);
  assert.deepEqual(await ownedAtLastStart(dirs[0]!, 'grow', 0), [0, 3]);
  assert.deepEqual(await ownedAtLastStart(dirs[2]!, 'grow', 2), [2]);
  assert.deepEqual(total(await Promise.all([0, 1, 2].map((i) => instanceTotals(dirs[i]!, 'grow', i)))), sorted(expectedTotals(second)), 'after 2 → 3');

  // 3 → 2: p3 goes back to instance 1, whose stale copy of it (from the first run) must not be used.
  const third = [...second, ...orders(KEYS, 24, 30)];
  await produce('grow-in', third.slice(second.length));
  await runInstances(files.slice(0, 2), 2);
  assert.deepEqual(await ownedAtLastStart(dirs[1]!, 'grow', 1), [1, 3]);
  assert.deepEqual(total(await Promise.all([0, 1].map((i) => instanceTotals(dirs[i]!, 'grow', i)))), sorted(expectedTotals(third)), 'after 3 → 2');
});

test('3 instances, then 2, then 3 again on the stateDirs they had (a StatefulSet\'s volumes kept): the partition that ran elsewhere meanwhile is restored, not its stale local copy used, totals exact', { timeout: 90_000 }, async () => {
  const dirs = [0, 1, 2].map((i) => join(h.stateDir, `back-${i}`));
  const files = dirs.map((_, i) => join(h.stateDir, `back-${i}.yaml`));
  for (const [i, file] of files.entries()) await writeTopology(file, 'back', dirs[i]!, 'back-in');
  const total = (parts: Array<Map<string, { n: number; sum: number }>>) => sorted(union(parts));

  const first = orders(KEYS, 0, 10);
  await produce('back-in', first);
  await runInstances(files, 3);
  assert.deepEqual(await ownedAtLastStart(dirs[2]!, 'back', 2), [2]);

  // 3 → 2: p2 moves to instance 0 and is counted there; instance 2's stateDir stays as it was.
  const second = [...first, ...orders(KEYS, 10, 20)];
  await produce('back-in', second.slice(first.length));
  await runInstances(files.slice(0, 2), 2);
  assert.deepEqual(total(await Promise.all([0, 1].map((i) => instanceTotals(dirs[i]!, 'back', i)))), sorted(expectedTotals(second)), 'after 3 → 2');

  // 2 → 3: p2 comes back to instance 2, whose copy misses what instance 0 counted meanwhile.
  const third = [...second, ...orders(KEYS, 20, 25)];
  await produce('back-in', third.slice(second.length));
  await runInstances(files, 3);
  assert.deepEqual(total(await Promise.all([0, 1, 2].map((i) => instanceTotals(dirs[i]!, 'back', i)))), sorted(expectedTotals(third)), 'after 2 → 3');
});
