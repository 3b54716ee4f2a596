import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../src/journal/index.js';

type Warning = [string, Record<string, unknown>];

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-missing-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const segmentFiles = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.journal')).sort();

/** 30 appends of 300 bytes over 2 KiB segments, none released: every seq stays unreleased, so a lost one shows. */
async function buildUnreleased(dir: string): Promise<number[]> {
  const journal = await Journal.open({ dir, fsync: 'never', segmentBytes: 2048 });
  const seqs: number[] = [];
  for (let i = 1; i <= 30; i += 1) seqs.push(...(await journal.append([{ source: 's', entry: Buffer.alloc(300, 64 + i) }])));
  await journal.close();
  return seqs;
}

async function openIn(dir: string): Promise<{ journal: Journal; warnings: Warning[] }> {
  const warnings: Warning[] = [];
  const journal = await Journal.open({ dir, fsync: 'never', segmentBytes: 2048, onWarning: (m, c) => warnings.push([m, c]) });
  return { journal, warnings };
}

test('a segment deleted from the middle is reported at error level, naming the file, the directory, the seqs lost and what to do; the rest is recovered', async (t) => {
  const dir = await tempDir(t);
  const seqs = await buildUnreleased(dir);
  const names = await segmentFiles(dir);
  assert.ok(names.length >= 4, `several segments: ${names.join(', ')}`);
  await rm(join(dir, names[2]!));

  const { journal, warnings } = await openIn(dir);
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  const [message, context] = warnings[0]!;
  assert.equal(context.corrupt, true, 'reported at error level');
  assert.deepEqual(context.missing, [names[2]]);
  assert.equal(context.dir, dir);
  const { fromSeq, toSeq } = context as { fromSeq: number; toSeq: number };
  assert.match(message, new RegExp(`^journal segment ${names[2]} is missing from ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, between ${names[1]} and ${names[3]}: `));
  assert.match(message, new RegExp(`Entries journaled in it with seqs ${fromSeq} to ${toSeq} that ${names[3]} does not hold are lost`));
  assert.match(message, /If the file was moved away, stop the process, put it back and start again/);
  // Exactly the seqs of the deleted file are gone, and they are the range the report names.
  const recovered = journal.unreleased().map((e) => e.seq);
  const lost = seqs.filter((seq) => !recovered.includes(seq));
  assert.ok(lost.length > 0);
  assert.deepEqual(lost, seqs.filter((seq) => seq >= fromSeq && seq <= toSeq));
  // The journal goes on: new seqs above every old one.
  const [next] = await journal.append([{ source: 's', entry: Buffer.from('after') }]);
  assert.ok(next! > seqs[seqs.length - 1]!);
  await journal.close();
  // Reported again on every open while the files around the gap are there.
  const again = await openIn(dir);
  await again.journal.close();
  assert.deepEqual(again.warnings.map(([, c]) => c.missing), [[names[2]]]);
});

test('several consecutive segments missing are reported together, once', async (t) => {
  const dir = await tempDir(t);
  await buildUnreleased(dir);
  const names = await segmentFiles(dir);
  await rm(join(dir, names[1]!));
  await rm(join(dir, names[2]!));
  const { journal, warnings } = await openIn(dir);
  await journal.close();
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.match(warnings[0]![0], new RegExp(`^journal segments ${names[1]} to ${names[2]} \\(2 files\\) are missing from .*, between ${names[0]} and ${names[3]}: .*files were removed from the middle`));
  assert.deepEqual(warnings[0]![1].missing, [names[1], names[2]]);
});

test('a newest segment with a torn header (a crash while creating it) leaves no gap: the next open reports nothing missing', async (t) => {
  const dir = await tempDir(t);
  const seqs = await buildUnreleased(dir);
  const names = await segmentFiles(dir);
  const torn = `${String(names.length + 1).padStart(12, '0')}.journal`;
  await writeFile(join(dir, torn), 'WSJ1');
  const first = await openIn(dir);
  await first.journal.close();
  assert.deepEqual(first.warnings.map(([m]) => m.includes('had a torn header')), [true]);
  assert.deepEqual(await segmentFiles(dir), [...names, torn], 'the new active segment took the torn one\'s id');
  const second = await openIn(dir);
  assert.deepEqual(second.journal.unreleased().map((e) => e.seq), seqs);
  await second.journal.close();
  assert.deepEqual(second.warnings, []);
});
