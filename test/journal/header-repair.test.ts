import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../src/journal/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { SEGMENT_HEADER_BYTES, checkSegmentHeader } from '../../src/journal/segment-file.js';

type Files = Map<string, Buffer>;
type Warning = [string, Record<string, unknown>];

const show = (e: { seq: number; source: string; entry: Buffer }) => `${e.seq}:${e.source}:${e.entry.toString()}`;

async function withDir<T>(files: Files, body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-header-'));
  try {
    for (const [name, bytes] of files) await writeFile(join(dir, name), bytes);
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `build` on a fresh journal of 2 KiB segments; returns its files, what it left unreleased and the highest seq it handed out. */
async function buildJournal(build: (journal: Journal) => Promise<void>): Promise<{ files: Files; unreleased: string[]; maxSeq: number }> {
  return withDir(new Map(), async (dir) => {
    const journal = await Journal.open({ dir, fsync: 'never', segmentBytes: 2048 });
    await build(journal);
    const unreleased = journal.unreleased().map(show);
    const [maxSeq] = await journal.append([{ source: 'probe', entry: Buffer.from('probe') }]);
    await journal.release([maxSeq!]);
    await journal.close();
    const files: Files = new Map();
    for (const name of (await readdir(dir)).filter((n) => n.endsWith('.journal')).sort()) files.set(name, await readFile(join(dir, name)));
    return { files, unreleased, maxSeq: maxSeq! };
  });
}

/** 24 appends over several segments, every third released; the newest segment ends with an append and a release. */
const manySegments = () => buildJournal(async (journal) => {
  for (let i = 1; i <= 24; i += 1) {
    const [seq] = await journal.append([{ source: i % 2 ? 'orders' : 'audit', entry: Buffer.from(`entry ${i} `.repeat(30)) }]);
    if (i % 3 === 0) await journal.release([seq!]);
  }
});

/** Opens the journal in `dir`, returns what it recovered and warned, and the seq a new append gets. */
async function recoverIn(dir: string): Promise<{ unreleased: string[]; warnings: Warning[]; nextSeq: number }> {
  const warnings: Warning[] = [];
  const journal = await Journal.open({ dir, fsync: 'never', onWarning: (m, c) => warnings.push([m, c]) });
  const unreleased = journal.unreleased().map(show);
  const [nextSeq] = await journal.append([{ source: 'after', entry: Buffer.from('after recovery') }]);
  await journal.close();
  return { unreleased, warnings, nextSeq: nextSeq! };
}

/** Recovers `files` with `damage` applied to segment `name`; checks replay, seqs, the report and that a second open is clean. */
async function assertRepaired(
  built: { files: Files; unreleased: string[]; maxSeq: number },
  name: string,
  damage: (header: Buffer) => void,
  label: string,
): Promise<{ warning: Warning; header: Buffer }> {
  const files = new Map(built.files);
  const bytes = Buffer.from(files.get(name)!);
  damage(bytes);
  files.set(name, bytes);
  return withDir(files, async (dir) => {
    const first = await recoverIn(dir);
    assert.deepEqual(first.unreleased, built.unreleased, `${label}: exactly the unreleased entries, no loss, no duplicate`);
    assert.ok(first.nextSeq > built.maxSeq, `${label}: a new append gets seq ${first.nextSeq}, above ${built.maxSeq}`);
    assert.equal(first.warnings.length, 1, `${label}: ${JSON.stringify(first.warnings)}`);
    const warning = first.warnings[0]!;
    assert.match(warning[0], new RegExp(`journal segment \\S*${name} had a damaged header \\(.+\\), but the \\d+ records in it verify and are kept; rewrote the header with base seq \\d+: .+\\. Check the disk`), label);
    assert.equal(warning[1].corrupt, true, `${label}: reported at error level`);
    const header = (await readFile(join(dir, name))).subarray(0, SEGMENT_HEADER_BYTES);
    assert.equal(checkSegmentHeader(header).kind, 'ok', `${label}: the header verifies after the repair`);
    const second = await recoverIn(dir);
    assert.deepEqual(second.warnings, [], `${label}: the repair is on disk, the next open finds nothing to say`);
    assert.deepEqual(second.unreleased, [...built.unreleased, `${first.nextSeq}:after:after recovery`], `${label}: reopened`);
    assert.ok(second.nextSeq > first.nextSeq, label);
    return { warning, header };
  });
}

test('one damaged byte anywhere in the header of a middle or the newest segment: the records are replayed, the original header is restored, and the repair is reported at error level', async () => {
  const built = await manySegments();
  const names = [...built.files.keys()];
  assert.ok(names.length >= 4, `several segments: ${names.join(', ')}`);
  const newest = names[names.length - 1]!;
  assert.ok(built.files.get(newest)!.length > SEGMENT_HEADER_BYTES, 'the newest segment holds records');
  for (const name of [names[1]!, newest]) {
    const original = built.files.get(name)!.subarray(0, SEGMENT_HEADER_BYTES);
    for (let at = 0; at < SEGMENT_HEADER_BYTES; at += 1) {
      for (const mask of [0x01, 0xff]) {
        const label = `${name}, byte ${at} ^ 0x${mask.toString(16)}`;
        const { warning, header } = await assertRepaired(built, name, (bytes) => { bytes[at] ^= mask; }, label);
        assert.match(warning[0], new RegExp(`only byte ${at} of the header was wrong`), label);
        assert.deepEqual(header, original, `${label}: the original header is back`);
      }
    }
  }
});

test('a header damaged beyond one byte: the base seq comes from the next segment (middle) or from the segments before (newest), and a torn rewrite of it is repaired again', async () => {
  const built = await manySegments();
  const names = [...built.files.keys()];
  const middle = names[1]!;
  const newest = names[names.length - 1]!;
  const garbage = randomBytes(SEGMENT_HEADER_BYTES);
  const fromNext = await assertRepaired(built, middle, (bytes) => garbage.copy(bytes), `${middle}, garbage header`);
  assert.match(fromNext.warning[0], new RegExp(`base seq of the next segment, ${names[2]}`));
  const fromBefore = await assertRepaired(built, newest, (bytes) => garbage.copy(bytes), `${newest}, garbage header`);
  assert.match(fromBefore.warning[0], /one above every seq in it and in the segments before it/);
  // A crash while rewriting the header: the first half written, the rest never reached the disk (zeros).
  await assertRepaired(built, newest, (bytes) => bytes.fill(0, 8, 16), `${newest}, half-written header`);
});

/** The segment files in `dir`, by name. */
async function readSegments(dir: string): Promise<Files> {
  const files: Files = new Map();
  for (const name of (await readdir(dir)).sort()) if (name.endsWith('.journal')) files.set(name, await readFile(join(dir, name)));
  return files;
}

test('a newest segment holding only a RELEASE gets a base seq above the seqs before it, not just above the seq it names', async () => {
  // Segment 1 holds seqs 1..12; segment 2, the newest, only the release of seq 3.
  const files = await withDir(new Map(), async (dir) => {
    const journal = await Journal.open({ dir, fsync: 'never' });
    for (let i = 1; i <= 12; i += 1) await journal.append([{ source: 's', entry: Buffer.from(`entry ${i}`) }]);
    await journal.close();
    const reopened = await Journal.open({ dir, fsync: 'never' });
    await reopened.release([3]);
    await reopened.close();
    return readSegments(dir);
  });
  assert.deepEqual([...files.keys()], ['000000000001.journal', '000000000002.journal']);
  const unreleased = Array.from({ length: 12 }, (_, i) => i + 1).filter((n) => n !== 3).map((n) => `${n}:s:entry ${n}`);
  const { warning } = await assertRepaired({ files, unreleased, maxSeq: 12 }, '000000000002.journal', (bytes) => bytes.fill(0x55, 0, 16), 'release-only newest segment');
  assert.match(warning[0], /with base seq 13: one above every seq in it and in the segments before it/);
});

test('the only segment, its header damaged beyond one byte: its records are replayed, and the warning says seqs may repeat', async () => {
  const built = await buildJournal(async (journal) => {
    await journal.append([{ source: 's', entry: Buffer.from('one') }, { source: 's', entry: Buffer.from('two') }]);
  });
  assert.deepEqual([...built.files.keys()], ['000000000001.journal']);
  const { warning } = await assertRepaired(built, '000000000001.journal', (bytes) => bytes.fill(0, 0, 16), 'only segment');
  assert.match(warning[0], /with base seq 4: one above every seq in it; no other segment shows which seqs were handed out before it was created, so seqs from 4 on may repeat/);
  assert.equal(warning[1].seqsProven, false);
});

/** Opens a journal on `files` and expects the refusal naming `name`; the file is left as it was. */
async function assertRefused(files: Files, name: string, problem: RegExp): Promise<void> {
  await withDir(files, async (dir) => {
    await assert.rejects(Journal.open({ dir }), (e: WalrusError) => {
      assert.equal(e.code, 'JOURNAL_ERROR');
      assert.match(e.message, new RegExp(`journal segment \\S*${name} is not readable: `));
      assert.match(e.message, problem);
      assert.match(e.message, /Move the file out of the journal directory to start/);
      return true;
    });
    assert.deepEqual(await readFile(join(dir, name)), files.get(name), 'the file is left alone');
    assert.ok(!(await readdir(dir)).includes('LOCK'), 'a failed open releases the lock');
  });
}

test('random bytes, or a damaged header with no journal record after it, still stop the open with the refusal', async () => {
  const built = await manySegments();
  const names = [...built.files.keys()];
  const junk = randomBytes(4096);
  junk[0] = 0x00; // not W: never the WSJ1 magic
  await assertRefused(new Map([...built.files, ['000000000099.journal', junk]]), '000000000099.journal', /does not start with the WSJ1 magic, and no journal record follows it \(/);
  // Random bytes in the middle of a journal, and a WSJ1 header with a bad checksum over a record that does not verify.
  const middle = new Map(built.files).set(names[1]!, junk);
  await assertRefused(middle, names[1]!, /WSJ1 magic, and no journal record follows it/);
  const badRecord = Buffer.from(built.files.get(names[1]!)!);
  badRecord.fill(0, 8, 16);
  badRecord[SEGMENT_HEADER_BYTES + 20] ^= 0x10;
  await assertRefused(new Map(built.files).set(names[1]!, badRecord), names[1]!, /header checksum does not match, and no journal record follows it \(checksum mismatch in the record at offset 16\)/);
  // Only a header, damaged in two bytes: nothing shows it is a segment.
  const headerOnly = Buffer.from(built.files.get(names[0]!)!.subarray(0, SEGMENT_HEADER_BYTES));
  headerOnly[5] ^= 1;
  headerOnly[13] ^= 1;
  await assertRefused(new Map([['000000000001.journal', headerOnly]]), '000000000001.journal', /header checksum does not match, and nothing follows its header/);
});
