import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RepartitionOrigins, parseOrigin } from '../../src/runtime/sources/repartition-origin.js';
import type { JournalLike } from '../../src/runtime/pipeline/pipeline-io.js';

/** A journal in memory: seqs from 1, released ones forgotten. */
function memoryJournal(): JournalLike & { live: Map<number, { source: string; entry: Buffer }> } {
  let next = 1;
  const live = new Map<number, { source: string; entry: Buffer }>();
  return {
    live,
    async append(items) { return items.map((item) => { live.set(next, item); return next++; }); },
    async release(seqs) { for (const s of seqs) live.delete(s); },
    unreleased: () => [...live].map(([seq, e]) => ({ seq, ...e })),
  };
}

test('the writer stamps <writer> <seq> <low>; low is the oldest seq not durably released', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-origin-'));
  try {
    const journal = memoryJournal();
    const origins = await RepartitionOrigins.open(dir, journal);
    const j = origins.wrap(journal);
    const [a, b, c] = await j.append([1, 2, 3].map((n) => ({ source: 's', entry: Buffer.from(String(n)) })));
    assert.deepEqual(parseOrigin(origins.stamp(c!)), { writer: origins.writer, seq: c, low: a });
    await j.release([a!, c!]);
    assert.equal(parseOrigin(origins.stamp(b!))?.low, b, 'b is still owed');
    await j.release([b!]);
    assert.equal(parseOrigin(origins.stamp(4))?.low, 4, 'nothing owed: the next seq');
    const again = await RepartitionOrigins.open(dir, journal);
    assert.equal(again.writer, origins.writer, 'one writer id per journal directory');
    assert.equal(origins.stamp(-1), undefined, 'no journal seq, no origin');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the reader drops a re-sent copy, also after a restart; a recovered entry is not its own copy; ids below the writer\'s low are forgotten', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-origin-'));
  try {
    const journal = memoryJournal();
    let origins = await RepartitionOrigins.open(dir, journal);
    let j = origins.wrap(journal);
    const w = (seq: number, low: number) => ({ writer: 'w1', seq, low });
    const [l1] = await j.append([{ source: 'rp', entry: Buffer.from('x') }]);
    assert.equal(origins.duplicate('t.p0', w(10, 10), 'id-a', l1!, false), false);
    assert.equal(origins.duplicate('t.p0', w(10, 10), 'id-a', 99, false), true, 'a copy while the first is in flight');
    assert.equal(origins.duplicate('t.p1', w(10, 10), 'id-a', 99, false), false, 'another partition is another stream');
    // Two source entries with equal bytes (plain-text lines) give records with equal ids: not copies of each other.
    assert.equal(origins.duplicate('t.p0', w(11, 10), 'id-a', 98, false), false, 'the same id from another source entry');
    await j.release([l1!]);
    assert.match(await readFile(join(dir, 'repartition-seen.log'), 'utf8'), /"id-a"/, 'persisted before the release');

    // A restart: the id is still known; the copy arriving now is dropped.
    origins = await RepartitionOrigins.open(dir, journal);
    j = origins.wrap(journal);
    assert.equal(origins.duplicate('t.p0', w(10, 10), 'id-a', 7, false), true);
    assert.equal(origins.duplicate('t.p0', w(12, 10), 'id-a', 8, false), false, 'still: the same id from a third entry');

    // An entry the crash left in the journal comes back with its own local seq: not a copy.
    const [l2] = await j.append([{ source: 'rp', entry: Buffer.from('y') }]);
    assert.equal(origins.duplicate('t.p0', w(11, 10), 'id-b', l2!, false), false);
    origins = await RepartitionOrigins.open(dir, journal);
    assert.equal(origins.duplicate('t.p0', w(11, 10), 'id-b', l2!, true), false, 'the recovered entry itself');
    assert.equal(origins.duplicate('t.p0', w(11, 10), 'id-b', l2! + 1, true), true, 'a copy of it, also recovered');

    // The writer released everything below 12: those ids can never come again.
    assert.equal(origins.duplicate('t.p0', w(12, 12), 'id-c', 50, false), false);
    assert.equal(origins.duplicate('t.p0', w(10, 12), 'id-a', 51, false), false, 'forgotten (it cannot be a re-send any more)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
