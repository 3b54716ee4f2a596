// run-tests: own process: long (20 s or more on 2 cores): started with the first, not last
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, copyFile, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { FRAME_OVERHEAD } from '../../src/state/store/frame-log.js';
import { runCli, expectedTotals, stateFixture } from '../state/run-cli.js';
import { fixture, harness, type Harness } from '../runtime/harness.js';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A hostile or unlucky operator's damage to a store's FILES between two
 * `walrus-stream run`s of a counting topology (store `totals`): each case
 * must end in exact state or in a refusal naming the file and what to do —
 * never silently wrong state, a stack trace or a hang.
 */
const KEYS = 5;
const order = (i: number) => ({ key: `cust-${i % KEYS}`, value: { i, amount: (i % 4) + 1 } });

/** `dir`: store totals (a log, no snapshot); `tallyDir`: store tally (snapshots after a few commits). */
interface App { app: string; stateDir: string; dir: string; tallyDir: string; args: string[] }

async function countingApp(h: Harness, app: string): Promise<App> {
  const stateDir = join(h.stateDir, app);
  await mkdir(stateDir, { recursive: true });
  const file = join(stateDir, 'topology.yaml');
  await writeFile(file, `
app: ${app}
stateDir: ${JSON.stringify(stateDir)}
sources:
  orders: { topic: ${app}.orders }
processors:
  count:
    module: ${JSON.stringify(fixture('state-count.ts'))}
    input: orders
    ordering: key
    stores: [totals]
  tally:
    module: ${JSON.stringify(stateFixture('tally.ts'))}
    input: orders
    ordering: key
    stores: [tally]
sinks:
  counts: { topic: ${app}.counts, input: count }
  tallies: { topic: ${app}.tallies, input: tally }
stores:
  totals: { fsync: never }
  tally: { fsync: never, snapshotEvery: 256B }
journal: { fsync: never }
`);
  const args = ['run', file, '--nodes', h.broker.address, '--until-idle', '--workers', '1', '--progress-interval', '0'];
  return { app, stateDir, dir: storeDir(stateDir, app, 'totals'), tallyDir: storeDir(stateDir, app, 'tally'), args };
}

/** Produces orders `from` .. `to - 1` and runs the app until idle. */
async function runOrders(h: Harness, a: App, from: number, to: number) {
  await h.produce(`${a.app}.orders`, Array.from({ length: to - from }, (_, i) => order(from + i)));
  return runCli(a.args);
}

async function totals(a: App): Promise<Map<string, unknown>> {
  const store = await KeyValueStore.open({ dir: a.dir, name: 'totals' });
  try {
    return new Map(store.range().map((e) => [e.key, e.value]));
  } finally {
    await store.close();
  }
}

test('a zero-filled tail of commits.log (a power cut on some filesystems) is cut as a torn tail: the next run counts on exactly', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const a = await countingApp(h, 'zero-tail');
  const first = await runOrders(h, a, 0, 30);
  assert.equal(first.code, 0, first.stderr);
  await appendFile(join(a.dir, 'commits.log'), Buffer.alloc(4096));
  const second = await runOrders(h, a, 30, 60);
  assert.equal(second.code, 0, `the run after the power cut finished; stderr:\n${second.stderr}`);
  assert.deepEqual(await totals(a), expectedTotals(60, order).totals);
});

test('a zero-filled region over whole commits in the middle of commits.log is refused naming the file and what to do, without a stack trace', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const a = await countingApp(h, 'zero-middle');
  for (let run = 0; run < 3; run++) { // three runs: at least three commits in the log
    const done = await runOrders(h, a, run * 10, run * 10 + 10);
    assert.equal(done.code, 0, done.stderr);
  }
  const log = join(a.dir, 'commits.log');
  const data = await readFile(log);
  const second = FRAME_OVERHEAD + data.readUInt32LE(0);
  const third = second + FRAME_OVERHEAD + data.readUInt32LE(second);
  assert.ok(third < data.length, 'the log holds at least three commits');
  data.fill(0, second, third); // exactly the second commit, its header included
  await writeFile(log, data);
  const refused = await runOrders(h, a, 30, 40);
  assert.equal(refused.signal, null);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, new RegExp(`state log ${escape(log)} is corrupt: the commit at offset ${second} .*move its directory aside`, 's'));
  assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
});

// The other store's log is copied over one holding a snapshot, and the snapshot removed (totals has a log only; tally's log may be empty after a snapshot).
for (const [file, from, to] of [['commits.log', 'totals', 'tally'], ['snapshot.bin', 'tally', 'totals']] as const) {
  test(`store ${from}'s ${file} copied into store ${to}: the next run refuses naming the file, instead of counting on from ${from}'s numbers`, { timeout: 120_000 }, async (t) => {
    const h = await harness();
    t.after(() => h.close());
    const a = await countingApp(h, `foreign-${file.replace('.', '-')}`);
    for (let run = 0; run < 2; run++) {
      const done = await runOrders(h, a, run * 20, run * 20 + 20);
      assert.equal(done.code, 0, done.stderr);
    }
    const dirOf = { totals: a.dir, tally: a.tallyDir };
    if (file === 'commits.log') await rm(join(dirOf[to], 'snapshot.bin'));
    await copyFile(join(dirOf[from], file), join(dirOf[to], file));
    const refused = await runOrders(h, a, 40, 50);
    assert.equal(refused.signal, null);
    assert.notEqual(refused.code, 0, `the run must not count on from another store's state; stderr:\n${refused.stderr}`);
    assert.match(refused.stderr, new RegExp(`state file ${escape(join(dirOf[to], file))} (holds commits|is a snapshot) of store \\\\?"${from}\\\\?", not of \\\\?"${to}\\\\?".*move the store's directory aside`, 's'));
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
  });
}

// A symbolic link to a file outside stateDir (the store would cut it to nothing), to /dev/null (commits durable nowhere), a directory in a file's place.
for (const [file, damage] of [['commits.log', 'outside'], ['commits.log', '/dev/null'], ['snapshot.bin', 'directory'], ['restore.json', 'directory']] as const) {
  test(`${file} replaced by ${damage === 'directory' ? 'a directory' : `a symbolic link to ${damage === 'outside' ? 'a file outside stateDir' : damage}`}: the run refuses naming the file and leaves the target alone`, { timeout: 120_000 }, async (t) => {
    const h = await harness();
    t.after(() => h.close());
    const a = await countingApp(h, `replaced-${file.replace('.', '-')}-${damage.replace(/\W/g, '')}`);
    const first = await runOrders(h, a, 0, 20);
    assert.equal(first.code, 0, first.stderr);
    const path = join(a.dir, file);
    const outside = join(h.stateDir, 'precious.txt');
    await writeFile(outside, 'an operator\'s file\n');
    await rm(path, { force: true });
    if (damage === 'directory') await mkdir(path);
    else await symlink(damage === 'outside' ? outside : damage, path);
    const refused = await runOrders(h, a, 20, 30);
    assert.equal(refused.signal, null);
    assert.notEqual(refused.code, 0, `stderr:\n${refused.stderr}`);
    assert.match(refused.stderr, new RegExp(`state file ${escape(path)} is a (symbolic link|directory); a store's files must be regular files`));
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(await readFile(outside, 'utf8'), 'an operator\'s file\n', 'the file outside stateDir is untouched');
  });
}

test('stateDir wiped and one changelog entry damaged (cut in half): the restore refuses naming the topic, on every start, instead of restoring without its writes', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const a = await countingApp(h, 'damaged-changelog');
  const first = await runOrders(h, a, 0, 20);
  assert.equal(first.code, 0, first.stderr);
  await rm(join(a.stateDir, a.app, 'state'), { recursive: true, force: true });
  const topic = `${a.app}-totals-changelog`;
  const entries = await h.drainEntries(topic);
  assert.ok(entries.length >= 1);
  const damaged = entries[0]!.slice(0, Math.ceil(entries[0]!.length / 2));
  await h.client.putMany(topic, ['a plain entry someone else wrote', damaged, ...entries.slice(1)]);
  for (const attempt of [1, 2]) {
    const refused = await runOrders(h, a, 20 * attempt, 20 * attempt + 5);
    assert.equal(refused.signal, null);
    assert.notEqual(refused.code, 0, `attempt ${attempt}: stderr:\n${refused.stderr}`);
    assert.match(refused.stderr, new RegExp(`store \\\\?"totals\\\\?": entry 2 of changelog topic ${escape(topic)} starts with wsc1: but does not decode.*put it back`, 's'), `attempt ${attempt}`);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('stateDir wiped and the changelog consumed too: the run starts the store empty, but warns naming the store and topic instead of saying nothing', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const a = await countingApp(h, 'emptied-changelog');
  const first = await runOrders(h, a, 0, 20);
  assert.equal(first.code, 0, first.stderr);
  await rm(join(a.stateDir, a.app, 'state'), { recursive: true, force: true });
  const topic = `${a.app}-totals-changelog`;
  assert.ok((await h.drainEntries(topic)).length > 0, 'someone read the changelog');
  const second = await runOrders(h, a, 20, 25);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, new RegExp(`state store \\\\?"totals\\\\?" has no local state and its changelog topic ${escape(topic)} is empty, though \\d+ entries were written to it.*starts EMPTY`));
  assert.doesNotMatch(second.stderr, /state store \\?"tally\\?" has no local state/, 'tally still has its changelog: restored, no warning');
});
