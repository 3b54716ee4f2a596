import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../src/journal/index.js';

async function diskBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) if (name.endsWith('.journal')) total += (await stat(join(dir, name))).size;
  return total;
}

test('200k appends and releases with long-held entries: disk stays bounded and the live set is exact, also after reopen', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-compaction-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const segmentBytes = 16 * 1024;
  const minBytes = 64 * 1024;
  const journal = await Journal.open({ dir, fsync: 'never', segmentBytes, compaction: { minBytes } });

  const live = new Map<number, string>();
  /** seq → batch number when it will be released; most go at once, 1% are held up to 400 batches. */
  const due = new Map<number, number>();
  let maxDisk = 0;
  let maxLiveBytes = 0;
  const total = 200_000;
  const batchSize = 100;
  for (let batch = 0; batch < total / batchSize; batch += 1) {
    const texts = Array.from({ length: batchSize }, (_, i) => `b${batch}i${i}-${'z'.repeat((batch * 7 + i) % 40)}`);
    const seqs = await journal.append(texts.map((text) => ({ source: `s${batch % 4}`, entry: Buffer.from(text) })));
    seqs.forEach((seq, i) => {
      live.set(seq, texts[i]!);
      due.set(seq, batch + (Math.random() < 0.01 ? Math.floor(Math.random() * 400) : Math.floor(Math.random() * 3)));
    });
    const release = [...due].filter(([, at]) => at <= batch).map(([seq]) => seq);
    for (const seq of release) {
      due.delete(seq);
      live.delete(seq);
    }
    await journal.release(release);
    const stats = journal.stats();
    maxDisk = Math.max(maxDisk, stats.bytes);
    maxLiveBytes = Math.max(maxLiveBytes, stats.liveBytes);
    if (batch % 250 === 0) assert.equal(await diskBytes(dir), stats.bytes, 'stats().bytes matches the files');
  }
  const stats = journal.stats();
  assert.ok(stats.compactions > 10, `compaction ran ${stats.compactions} times`);
  // Compaction runs once live ≤ 25% of the files and the files reach minBytes; one segment of slack for the active one.
  const bound = Math.max(minBytes, 4 * maxLiveBytes) + 2 * segmentBytes;
  assert.ok(maxDisk <= bound, `disk peaked at ${maxDisk} bytes; bound ${bound} (live peaked at ${maxLiveBytes})`);
  t.diagnostic(`200k appends: disk peaked at ${maxDisk} B (bound ${bound}), live peaked at ${maxLiveBytes} B, ${stats.compactions} compactions, ${stats.segments} segments at the end`);

  const expected = [...live].sort((a, b) => a[0] - b[0]).map(([seq, text]) => `${seq}:${text}`);
  assert.deepEqual(journal.unreleased().map((e) => `${e.seq}:${e.entry.toString()}`), expected);
  await journal.close();
  const again = await Journal.open({ dir });
  assert.deepEqual(again.unreleased().map((e) => `${e.seq}:${e.entry.toString()}`), expected);
  await again.close();
});

test('reopening after a crash between a compaction and its deletes keeps exactly the live set (newer copies win)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-compaction-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const before = join(dir, 'before');
  const journal = await Journal.open({ dir: join(dir, 'j'), segmentBytes: 2048, compaction: { minBytes: 1 << 30, maxSegments: 1000 } });
  const kept = await journal.append([{ source: 'a', entry: Buffer.from('kept one') }, { source: 'b', entry: Buffer.from('kept two') }]);
  for (let i = 0; i < 30; i += 1) await journal.release(await journal.append([{ source: 's', entry: Buffer.alloc(200, 65 + (i % 26)) }]));
  await journal.release([kept[1]!]);
  assert.ok(journal.stats().segments >= 3);
  await journal.close();
  // Snapshot the pre-compaction segments, then let a compaction run and put the old files back:
  // the state a crash after the rename but before the deletes leaves behind.
  await cp(join(dir, 'j'), before, { recursive: true });
  const compacting = await Journal.open({ dir: join(dir, 'j'), segmentBytes: 2048, compaction: { minBytes: 0 } });
  assert.equal(compacting.stats().compactions, 1);
  await compacting.close();
  await rm(join(before, 'LOCK'), { force: true });
  await cp(before, join(dir, 'j'), { recursive: true, force: false, errorOnExist: false });
  const files = (await readdir(join(dir, 'j'))).filter((f) => f.endsWith('.journal'));
  assert.ok(files.length >= 4, `old and compacted segments side by side: ${files.join(', ')}`);
  const recovered = await Journal.open({ dir: join(dir, 'j') });
  assert.deepEqual(recovered.unreleased().map((e) => [e.seq, e.source, e.entry.toString()]), [[kept[0], 'a', 'kept one']]);
  await recovered.release([kept[0]!]);
  await recovered.close();
  const last = await Journal.open({ dir: join(dir, 'j') });
  assert.deepEqual(last.unreleased(), []);
  assert.equal(last.stats().segments, 1);
  await last.close();
});

test('segments deleted once released (oldest first) and by compaction are never reported missing: reopened after every round, nothing is said', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-compaction-gaps-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const steps = new Set<string>();
  let stuck: number[] = [];
  for (let round = 0; round < 6; round += 1) {
    const warnings: string[] = [];
    const journal = await Journal.open({
      dir, fsync: 'never', segmentBytes: 2048, compaction: { minBytes: 8192 },
      onWarning: (m) => warnings.push(m), onStep: (s) => steps.add(s),
    });
    assert.deepEqual(warnings, [], `round ${round}: the open found nothing to report`);
    assert.deepEqual(journal.unreleased().map((e) => e.seq), stuck, `round ${round}: the held entry came back`);
    await journal.release(stuck);
    // One entry held until the next round pins segments, so compaction (not only deletion) has to free them.
    stuck = await journal.append([{ source: 'held', entry: Buffer.from(`held ${round}`) }]);
    for (let i = 0; i < 60; i += 1) {
      // Appends issued together: some are handed seqs before a roll and written after it.
      const seqs = (await Promise.all([1, 2, 3].map((k) => journal.append([{ source: 's', entry: Buffer.alloc(150, 65 + ((i + k) % 26)) }])))).flat();
      await journal.release(seqs);
    }
    await journal.close();
  }
  assert.ok(steps.has('segments-deleted') && steps.has('compaction-done'), `both kinds of deletion ran: ${[...steps].join(', ')}`);
  const files = (await readdir(dir)).filter((n) => n.endsWith('.journal')).sort();
  assert.notEqual(files[0], '000000000001.journal', `the oldest segments are gone: ${files.join(', ')}`);
});
