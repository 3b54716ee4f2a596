import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../src/journal/index.js';
import { RECORD_MAGIC, RecordType } from '../../src/journal/record-format.js';
import { RESYNC_BUDGET_BYTES } from '../../src/journal/segment-scan.js';

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

test('a flipped bit anywhere in the last record drops it and truncates; in a middle record only that record is lost: the records after it verify and are kept, and the warning names the skipped bytes', async () => {
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
  // Every byte of the middle record, the header included (magic, type, length, crc): the third record is found again.
  for (let at = secondStart; at < lastStart; at += 1) {
    const middle = Buffer.from(bytes);
    middle[at] = middle[at]! ^ (1 << at % 8);
    const result = await recoverFrom(middle, async (journal, dir) => {
      await journal.append([{ source: 'orders', entry: Buffer.from('after recovery') }]);
      await journal.close();
      const again = await Journal.open({ dir });
      assert.deepEqual(again.unreleased().map((e) => e.entry.toString()), ['first entry', 'third entry, the last record', 'after recovery'], `flip at ${at}: reopened`);
      await again.close();
    });
    assert.deepEqual(result.unreleased, ['1:orders:first entry', '3:orders:third entry, the last record'], `flip at ${at}`);
    assert.equal(result.warnings.length, 1, `flip at ${at}: ${result.warnings.join('; ')}`);
    assert.match(result.warnings[0]!, new RegExp(`at offset ${secondStart}\\b.*; ${lastStart - secondStart} bytes from offset ${secondStart} are unreadable and skipped`), `flip at ${at}`);
    assert.equal(result.size, end, `flip at ${at}: nothing is truncated`);
  }
});

test('corrupt stretches in the middle of a long segment cost only the records in them; a RELEASE lost there makes its entries run again', async () => {
  const { bytes, boundaries } = await buildSegment(async (journal, b) => {
    for (let i = 1; i <= 200; i += 1) {
      await journal.append([{ source: 's', entry: Buffer.from(`entry ${i} `.repeat(1 + (i % 7))) }]);
      b.push(journal.stats().bytes);
      if (i % 50 === 0) { await journal.release([i - 1]); b.push(journal.stats().bytes); }
    }
  });
  const corrupt = Buffer.from(bytes);
  // Garbage over records 20..22 (three appends), and over the RELEASE of seq 49.
  const recordStart = (n: number) => boundaries[n - 1 + Math.floor((n - 1) / 50)]!;
  corrupt.fill(0xa7, recordStart(20) + 3, recordStart(23) - 2);
  const releaseAt = boundaries[50]!;
  corrupt[releaseAt + 13] = corrupt[releaseAt + 13]! ^ 0xff;
  const result = await recoverFrom(corrupt);
  const seqs = result.unreleased.map((e) => Number(e.split(':')[0]));
  const expected = Array.from({ length: 200 }, (_, i) => i + 1).filter((n) => ![20, 21, 22, 99, 149, 199].includes(n));
  assert.deepEqual(seqs, expected, 'seqs 20-22 lost; 49 unreleased again; the other releases hold');
  assert.equal(result.warnings.length, 2, result.warnings.join('; '));
  assert.equal(result.size, bytes.length);
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

test('an older segment cut below its header size (newer segments follow) is reported as lost entries, at error level, not as a crash\'s torn header', async () => {
  const { bytes } = await threeAppends();
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-cut-'));
  try {
    await writeFile(join(dir, FIRST_SEGMENT), bytes.subarray(0, 9));
    await writeFile(join(dir, '000000000002.journal'), bytes);
    const warnings: Array<[string, Record<string, unknown>]> = [];
    const journal = await Journal.open({ dir, onWarning: (m, context) => warnings.push([m, context]) });
    await journal.close();
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]![0], /000000000001\.journal is only 9 bytes, shorter than its header, though newer segments follow it: .*entries journaled in it are lost/);
    assert.equal(warnings[0]![1].corrupt, true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a tail crafted so that every 12th byte starts a plausible record header (1 MB each) is cut after a bounded search, not checksummed for hours; the good records stay', { timeout: 60_000 }, async () => {
  const { bytes, boundaries } = await threeAppends();
  const [, , lastStart] = boundaries as [number, number, number, number];
  // magic, APPEND, two spare bytes, payload length 1,000,000, a checksum that never matches.
  const unit = Buffer.from([RECORD_MAGIC, RecordType.APPEND, 0, 0, 0x40, 0x42, 0x0f, 0x00, 0, 0, 0, 0]);
  const crafted = Buffer.alloc(4 * 2 ** 20);
  for (let at = 0; at + unit.length <= crafted.length; at += unit.length) unit.copy(crafted, at);
  const started = performance.now();
  const result = await recoverFrom(Buffer.concat([bytes.subarray(0, lastStart), crafted]));
  assert.ok(performance.now() - started < 20_000, `recovered in ${Math.round(performance.now() - started)} ms`);
  assert.deepEqual(result.unreleased, ['1:orders:first entry', '2:orders:second entry']);
  assert.equal(result.warnings.length, 1, result.warnings.join('; '));
  assert.match(result.warnings[0]!, new RegExp(`search for a record after it gave up after checking ${RESYNC_BUDGET_BYTES / 2 ** 20} MiB.*truncated ${crafted.length} bytes`));
  assert.equal(result.size, lastStart);
});
