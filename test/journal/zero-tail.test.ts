import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../src/journal/index.js';

// A segment extended by a gigabyte of zeros after its records (a file grown by a crash on some filesystems, by
// `truncate -s`, by a tool gone wrong; sparse here, so it costs no disk). Recovery looks for a record after the
// bad bytes before it cuts them, and did so one byte and one await at a time: about 80 ms per MiB, so opening
// this journal took well over a minute (14 minutes for 10 GiB), and `walrus-stream run` looked hung. It now
// searches each 1 MiB window for the record magic at once. The test's own timeout is the only clock here: the
// old search does not finish within it on any machine; the counts and bytes are what is checked.

const GIB = 2 ** 30;

test('a segment followed by 1 GiB of zeros opens with its entries, the zeros cut and reported', { timeout: 45_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-zeros-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const journal = await Journal.open({ dir, fsync: 'never' });
  const seqs = await journal.append([{ source: 'orders', entry: Buffer.from('first') }, { source: 'orders', entry: Buffer.from('second') }]);
  await journal.release([seqs[0]!]);
  await journal.close();
  const [name] = (await readdir(dir)).filter((n) => n.endsWith('.journal'));
  const segment = join(dir, name!);
  const size = (await stat(segment)).size;
  await truncate(segment, size + GIB);

  const warnings: Array<[string, Record<string, unknown>]> = [];
  const reopened = await Journal.open({ dir, fsync: 'never', onWarning: (m, c) => warnings.push([m, c]) });
  t.after(() => reopened.close());
  assert.deepEqual(reopened.unreleased().map((e) => [e.seq, e.source, e.entry.toString()]), [[seqs[1], 'orders', 'second']]);
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.match(warnings[0]![0], new RegExp(`${name}: bad record magic 0x0 at offset ${size}; truncated ${GIB} bytes from there on`));
  assert.equal((await stat(segment)).size, size, 'the zeros are cut, the records kept');
  // Seqs keep growing after the cut.
  const [next] = await reopened.append([{ source: 'orders', entry: Buffer.from('third') }]);
  assert.equal(next, seqs[1]! + 1);
});
