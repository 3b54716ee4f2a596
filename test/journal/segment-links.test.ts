import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../src/journal/index.js';
import { WalrusError } from '../../src/errors/index.js';

// Something that is not a regular file, named like a segment, in the journal directory. Before: a symbolic link
// to a file elsewhere was opened through the link, its records adopted as the journal's own, and the file it
// points to truncated at the first bytes that were not a record (a journal segment with 32 bytes of another
// program's data after it lost those bytes); a directory failed with a bare "EISDIR: illegal operation on a
// directory". The store refuses links in place of its files the same way (docs/state.md, "Files and recovery").

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-links-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A journal in `dir` holding one unreleased entry; returns its only segment's bytes. */
async function oneEntry(dir: string, entry: string): Promise<Buffer> {
  const journal = await Journal.open({ dir, fsync: 'never' });
  await journal.append([{ source: 'orders', entry: Buffer.from(entry) }]);
  await journal.close();
  const [name] = (await readdir(dir)).filter((n) => n.endsWith('.journal'));
  return readFile(join(dir, name!));
}

function refused(path: string, kind: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof WalrusError && e.code === 'JOURNAL_ERROR' && e.message.startsWith(`journal segment ${path} is `)
    && kind.test(e.message) && /not a regular file/.test(e.message) && /Move it out of the journal directory/.test(e.message);
}

test('a symbolic link named like a segment is refused, naming it and its target; the file it points to is not cut', async (t) => {
  const root = await tempDir(t);
  const segment = await oneEntry(join(root, 'other'), 'another journal\'s entry');
  // A file elsewhere that happens to start like a segment: a journal segment with other data after it.
  const victim = join(root, 'victim.bin');
  const victimBytes = Buffer.concat([segment, Buffer.from('precious bytes of some other program')]);
  await writeFile(victim, victimBytes);
  const dir = join(root, 'journal');
  const own = await oneEntry(dir, 'own entry');
  const link = join(dir, '000000000002.journal');
  await symlink(victim, link);
  const warnings: string[] = [];
  await assert.rejects(Journal.open({ dir, fsync: 'never', onWarning: (m) => warnings.push(m) }), refused(link, new RegExp(`a symbolic link \\(to "${victim}"\\)`)));
  assert.deepEqual(await readFile(victim), victimBytes, 'the file the link points to is untouched');
  assert.deepEqual(warnings, []);
  assert.deepEqual(await readFile(join(dir, '000000000001.journal')), own, 'the journal\'s own segment is untouched');

  // Moving the link away as told: the journal opens with its own entry only.
  await rename(link, join(root, 'moved-link'));
  const journal = await Journal.open({ dir, fsync: 'never' });
  t.after(() => journal.close());
  assert.deepEqual(journal.unreleased().map((e) => e.entry.toString()), ['own entry']);
});

test('a link to another journal\'s intact segment is refused too: its entries are not adopted', async (t) => {
  const root = await tempDir(t);
  await oneEntry(join(root, 'other'), 'not ours');
  const dir = join(root, 'journal');
  await mkdir(dir);
  const link = join(dir, '000000000001.journal');
  await symlink(join(root, 'other', '000000000001.journal'), link);
  await assert.rejects(Journal.open({ dir, fsync: 'never' }), refused(link, /a symbolic link/));
});

test('a directory or a named pipe named like a segment is refused with the same advice', async (t) => {
  const dir = await tempDir(t);
  const asDir = join(dir, '000000000001.journal');
  await mkdir(asDir);
  await assert.rejects(Journal.open({ dir, fsync: 'never' }), refused(asDir, /is a directory, not a regular file/));
  await rm(asDir, { recursive: true });

  const fifo = join(dir, '000000000001.journal');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(Journal.open({ dir, fsync: 'never' }), refused(fifo, /is a named pipe, not a regular file/));
  assert.deepEqual(await readdir(dir), ['000000000001.journal'], 'the pipe is left where it is, nothing else written');
});
