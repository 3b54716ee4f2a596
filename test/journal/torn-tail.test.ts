import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../src/journal/index.js';

const FIRST_SEGMENT = '000000000001.journal';

/** Builds a one-segment journal by running `build`, returning the segment bytes and record boundaries. */
async function buildSegment(build: (journal: Journal, boundaries: number[]) => Promise<void>): Promise<{ bytes: Buffer; boundaries: number[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-build-'));
  try {
    const journal = await Journal.open({ dir });
    const boundaries = [journal.stats().bytes];
    await build(journal, boundaries);
    await journal.close();
    return { bytes: await readFile(join(dir, FIRST_SEGMENT)), boundaries };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Opens a journal whose only segment holds `bytes`; returns what it recovered and said. */
async function recoverFrom(bytes: Buffer, after?: (journal: Journal, dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-torn-'));
  try {
    await writeFile(join(dir, FIRST_SEGMENT), bytes);
    const warnings: string[] = [];
    const journal = await Journal.open({ dir, fsync: 'never', onWarning: (m) => warnings.push(m) });
    const unreleased = journal.unreleased().map((e) => `${e.seq}:${e.source}:${e.entry.toString()}`);
    const size = (await stat(join(dir, FIRST_SEGMENT)).catch(() => undefined))?.size;
    await after?.(journal, dir);
    await journal.close();
    return { unreleased, warnings, size };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function threeAppends() {
  return buildSegment(async (journal, boundaries) => {
    for (const text of ['first entry', 'second entry', 'third entry, the last record']) {
      await journal.append([{ source: 'orders', entry: Buffer.from(text) }]);
      boundaries.push(journal.stats().bytes);
    }
  });
}

test('a torn last record (cut at every byte offset) is dropped and truncated; earlier records and later appends survive', async () => {
  const { bytes, boundaries } = await threeAppends();
  const [, , lastStart, end] = boundaries as [number, number, number, number];
  assert.equal(bytes.length, end);
  for (let cut = lastStart; cut < end; cut += 1) {
    const result = await recoverFrom(bytes.subarray(0, cut), async (journal, dir) => {
      await journal.append([{ source: 'orders', entry: Buffer.from('after the tear') }]);
      await journal.close();
      const again = await Journal.open({ dir });
      assert.deepEqual(
        again.unreleased().map((e) => e.entry.toString()),
        ['first entry', 'second entry', 'after the tear'],
        `cut ${cut}: appends after recovery must survive too`,
      );
      await again.close();
    });
    assert.deepEqual(result.unreleased, ['1:orders:first entry', '2:orders:second entry'], `cut at ${cut}`);
    assert.equal(result.warnings.length, cut === lastStart ? 0 : 1, `cut at ${cut}: ${result.warnings.join('; ')}`);
    if (cut > lastStart) assert.match(result.warnings[0]!, /torn record/);
    assert.equal(result.size, lastStart, `cut at ${cut}: the torn bytes are truncated`);
  }
});

test('a flipped bit anywhere in the last record drops it; in a middle record nothing after it is trusted', async () => {
  const { bytes, boundaries } = await threeAppends();
  const [, secondStart, lastStart, end] = boundaries as [number, number, number, number];
  for (let at = lastStart; at < end; at += 1) {
    const corrupt = Buffer.from(bytes);
    corrupt[at] = corrupt[at]! ^ (1 << at % 8);
    const result = await recoverFrom(corrupt);
    assert.deepEqual(result.unreleased, ['1:orders:first entry', '2:orders:second entry'], `flip at ${at}`);
    assert.equal(result.warnings.length, 1, `flip at ${at}`);
    assert.equal(result.size, lastStart);
  }
  const middle = Buffer.from(bytes);
  middle[secondStart + 20] = middle[secondStart + 20]! ^ 0x40;
  const result = await recoverFrom(middle);
  assert.deepEqual(result.unreleased, ['1:orders:first entry']);
  assert.match(result.warnings[0]!, new RegExp(`checksum mismatch in the record at offset ${secondStart}`));
  assert.equal(result.size, secondStart);
});

test('a corrupt length field is refused before any allocation, whether huge or merely past the end', async () => {
  const { bytes, boundaries } = await threeAppends();
  const lastStart = boundaries[2]!;
  const huge = Buffer.from(bytes);
  huge.writeUInt32LE(0xffff_ffff, lastStart + 4);
  const hugeResult = await recoverFrom(huge);
  assert.equal(hugeResult.unreleased.length, 2);
  assert.match(hugeResult.warnings[0]!, /record length 4294967295 exceeds/);
  const pastEnd = Buffer.from(bytes);
  pastEnd.writeUInt32LE(1_000_000, lastStart + 4);
  const pastResult = await recoverFrom(pastEnd);
  assert.equal(pastResult.unreleased.length, 2);
  assert.match(pastResult.warnings[0]!, /torn record at offset/);
});

test('a torn RELEASE record leaves its seqs unreleased (the release never completed)', async () => {
  const { bytes, boundaries } = await buildSegment(async (journal, b) => {
    await journal.append([{ source: 's', entry: Buffer.from('one') }, { source: 's', entry: Buffer.from('two') }]);
    b.push(journal.stats().bytes);
    await journal.release([1, 2]);
    b.push(journal.stats().bytes);
  });
  const [, releaseStart, end] = boundaries as [number, number, number];
  for (let cut = releaseStart; cut <= end; cut += 1) {
    const result = await recoverFrom(bytes.subarray(0, cut));
    assert.deepEqual(result.unreleased, cut === end ? [] : ['1:s:one', '2:s:two'], `cut at ${cut}`);
  }
});

test('a segment with a torn header (crash while creating it) is removed; other segments are intact', async () => {
  const { bytes } = await threeAppends();
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-torn-header-'));
  try {
    await writeFile(join(dir, FIRST_SEGMENT), bytes);
    await writeFile(join(dir, '000000000002.journal'), bytes.subarray(0, 7));
    await writeFile(join(dir, '000000000003.journal.tmp'), 'an interrupted compaction');
    const warnings: string[] = [];
    const journal = await Journal.open({ dir, onWarning: (m) => warnings.push(m) });
    assert.equal(journal.unreleased().length, 3);
    assert.match(warnings.join('\n'), /000000000002\.journal had a torn header/);
    await journal.close();
    await assert.rejects(stat(join(dir, '000000000003.journal.tmp')), /ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
