// run-tests: own process: asserts a deprecation warning is emitted once per process
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, type JournalStep } from '../../src/journal/index.js';
import { WalrusError } from '../../src/errors/index.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const entry = (text: string) => Buffer.from(text, 'utf8');

test('append returns growing seqs; unreleased survives close and reopen; released entries do not come back', async (t) => {
  const dir = await tempDir(t);
  const journal = await Journal.open({ dir });
  const seqs = await journal.append([
    { source: 'orders', entry: entry('a') },
    { source: 'orders', entry: entry('b') },
    { source: 'audit', entry: Buffer.from([0, 255, 10, 32]) },
  ]);
  assert.deepEqual(seqs, [1, 2, 3]);
  await journal.release([2]);
  assert.deepEqual(journal.stats().unreleased, 2);
  await journal.close();

  const again = await Journal.open({ dir });
  assert.deepEqual(
    again.unreleased().map((e) => [e.seq, e.source, e.entry.toString('hex')]),
    [
      [1, 'orders', entry('a').toString('hex')],
      [3, 'audit', '00ff0a20'],
    ],
  );
  const [next] = await again.append([{ source: 'orders', entry: entry('c') }]);
  assert.equal(next, 4, 'seqs keep growing across restarts');
  await again.release([1, 3, 4]);
  await again.close();

  const third = await Journal.open({ dir });
  assert.deepEqual(third.unreleased(), []);
  const [after] = await third.append([{ source: 'orders', entry: entry('d') }]);
  assert.equal(after, 5, 'seqs keep growing even when every segment was released and deleted');
  await third.close();
});

test('concurrent appends and releases in one tick share one write and one fsync (group commit)', async (t) => {
  const dir = await tempDir(t);
  const journal = await Journal.open({ dir, fsync: 'always' });
  const calls = Array.from({ length: 1000 }, (_, i) => journal.append([{ source: 's', entry: entry(`e${i}`) }]));
  const seqs = (await Promise.all(calls)).flat();
  assert.equal(new Set(seqs).size, 1000);
  assert.deepEqual(
    seqs,
    [...seqs].sort((a, b) => a - b),
    'seqs follow call order',
  );
  assert.equal(journal.stats().writes, 1);
  assert.equal(journal.stats().syncs, 1);
  await Promise.all(seqs.map((seq) => journal.release([seq])));
  assert.equal(journal.stats().writes, 2);
  assert.equal(journal.stats().unreleased, 0);
  await journal.close();
});

test("groupCommit false writes and syncs each call on its own; fsync 'never' never syncs", async (t) => {
  const dir = await tempDir(t);
  const always = await Journal.open({ dir: join(dir, 'a'), fsync: 'always', groupCommit: false });
  await Promise.all(Array.from({ length: 5 }, (_, i) => always.append([{ source: 's', entry: entry(`${i}`) }])));
  assert.equal(always.stats().writes, 5);
  assert.equal(always.stats().syncs, 5);
  await always.close();
  const never = await Journal.open({ dir: join(dir, 'n'), fsync: 'never' });
  await Promise.all(Array.from({ length: 5 }, (_, i) => never.append([{ source: 's', entry: entry(`${i}`) }])));
  assert.equal(never.stats().syncs, 0);
  await never.close();
  const reopened = await Journal.open({ dir: join(dir, 'n') });
  assert.equal(reopened.unreleased().length, 5);
  await reopened.close();
});

test("fsync 'batch' (the old spelling) still works as 'always', with one DeprecationWarning", async (t) => {
  const dir = await tempDir(t);
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => { if (w.name === 'DeprecationWarning') warnings.push(w); };
  process.on('warning', onWarning);
  t.after(() => { process.off('warning', onWarning); });
  const first = await Journal.open({ dir: join(dir, 'a'), fsync: 'batch' });
  await Promise.all(Array.from({ length: 20 }, (_, i) => first.append([{ source: 's', entry: entry(`${i}`) }])));
  assert.equal(first.stats().syncs, 1, 'group commit, as with always');
  await first.close();
  const second = await Journal.open({ dir: join(dir, 'b'), fsync: 'batch' });
  await second.close();
  await new Promise((r) => setImmediate(r));
  assert.equal(warnings.length, 1, 'warned once per process');
  assert.match(warnings[0]!.message, /Journal option fsync: "batch" is the old spelling of "always"/);
  assert.equal((warnings[0] as Error & { code?: string }).code, 'WALRUS_FSYNC_SPELLING');
});

test('releasing unknown or already released seqs is harmless and writes nothing', async (t) => {
  const dir = await tempDir(t);
  const journal = await Journal.open({ dir });
  const [seq] = await journal.append([{ source: 's', entry: entry('x') }]);
  await journal.release([seq!]);
  const writes = journal.stats().writes;
  await journal.release([seq!, 999]);
  assert.equal(journal.stats().writes, writes);
  await journal.close();
});

test('bad arguments are refused with a specific error and nothing is written', async (t) => {
  const dir = await tempDir(t);
  const journal = await Journal.open({ dir });
  await assert.rejects(journal.append([{ source: '', entry: entry('x') }]), (e: WalrusError) => e.code === 'INVALID_ARGUMENT' && /item 0 has no source/.test(e.message));
  await assert.rejects(journal.append([{ source: 's', entry: 'text' as unknown as Buffer }]), (e: WalrusError) => e.code === 'INVALID_ARGUMENT' && /Buffer or Uint8Array/.test(e.message));
  await assert.rejects(journal.append([{ source: 'x'.repeat(2000), entry: entry('x') }]), /at most 1024/);
  await assert.rejects(journal.release([0]), (e: WalrusError) => e.code === 'INVALID_ARGUMENT');
  assert.equal(journal.stats().writes, 0);
  assert.deepEqual(await journal.append([]), []);
  await journal.close();
  await assert.rejects(journal.append([{ source: 's', entry: entry('x') }]), (e: WalrusError) => e.code === 'JOURNAL_ERROR' && /closed/.test(e.message));
  await assert.rejects(Journal.open({ dir, fsync: 'sometimes' as 'never' }), (e: WalrusError) => e.code === 'CONFIG_INVALID' && /fsync/.test(e.message));
});

test('a second open of the same directory is refused while the first is open, allowed after close', async (t) => {
  const dir = await tempDir(t);
  const first = await Journal.open({ dir });
  await assert.rejects(Journal.open({ dir }), (e: WalrusError) => e.code === 'JOURNAL_ERROR' && /already open/.test(e.message));
  await first.close();
  const second = await Journal.open({ dir });
  await second.close();
});

test('a lock held by a live process refuses the open; a stale lock (dead pid) is taken over', async (t) => {
  const dir = await tempDir(t);
  // The parent of this test process is alive for sure.
  await writeFile(join(dir, 'LOCK'), `${process.ppid}\n`);
  await assert.rejects(Journal.open({ dir }), (e: WalrusError) => e.code === 'JOURNAL_ERROR' && new RegExp(`in use by process ${process.ppid}`).test(e.message));
  await writeFile(join(dir, 'LOCK'), '2147483646\n');
  const journal = await Journal.open({ dir });
  await journal.close();
  assert.ok(!(await readdir(dir)).includes('LOCK'), 'close removes the lock');
});

test('segments roll at segmentBytes and released segments are deleted oldest-first', async (t) => {
  const dir = await tempDir(t);
  const steps: JournalStep[] = [];
  const journal = await Journal.open({ dir, segmentBytes: 4096, onStep: (s) => steps.push(s) });
  const seqs: number[] = [];
  for (let i = 0; i < 40; i += 1) seqs.push(...(await journal.append([{ source: 's', entry: Buffer.alloc(500, i) }])));
  assert.ok(journal.stats().segments >= 4, `expected several segments, got ${journal.stats().segments}`);
  assert.ok(steps.includes('segment-rolled'));
  // Releasing everything but the first entry pins every segment (oldest-first deletion).
  await journal.release(seqs.slice(1));
  const pinned = journal.stats().segments;
  assert.ok(pinned >= 4);
  await journal.release([seqs[0]!]);
  await journal.append([{ source: 's', entry: Buffer.alloc(10) }]);
  assert.equal(journal.stats().segments, 1, 'only the active segment is left');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.journal'));
  assert.equal(files.length, 1);
  assert.equal((await stat(join(dir, files[0]!))).size, journal.stats().bytes);
  await journal.close();
});

test('compaction copies a stuck entry forward so old segments can go, and it survives reopen', async (t) => {
  const dir = await tempDir(t);
  const journal = await Journal.open({ dir, segmentBytes: 4096, compaction: { minBytes: 16 * 1024 } });
  const [stuck] = await journal.append([{ source: 'stuck', entry: entry('keep me') }]);
  for (let i = 0; i < 200; i += 1) {
    const seqs = await journal.append([{ source: 's', entry: Buffer.alloc(300, i) }]);
    await journal.release(seqs);
  }
  const stats = journal.stats();
  assert.ok(stats.compactions >= 1, 'compaction ran');
  assert.ok(stats.bytes < 16 * 1024 + 2 * 4096, `disk bounded, got ${stats.bytes}`);
  assert.deepEqual(journal.unreleased().map((e) => e.seq), [stuck]);
  await journal.close();
  const again = await Journal.open({ dir });
  assert.deepEqual(again.unreleased().map((e) => [e.seq, e.source, e.entry.toString()]), [[stuck, 'stuck', 'keep me']]);
  await again.close();
});

test('a file that is not a journal segment stops the open with a clear error and is left alone', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, '000000000001.journal'), 'this is not a journal segment at all');
  await assert.rejects(Journal.open({ dir }), (e: WalrusError) => e.code === 'JOURNAL_ERROR' && /WSJ1 magic/.test(e.message) && /Move the file/.test(e.message));
  assert.equal((await stat(join(dir, '000000000001.journal'))).size, 36);
  assert.ok(!(await readdir(dir)).includes('LOCK'), 'a failed open releases the lock');
});
