import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WalrusClient } from '../../src/client/index.js';
import { KeyValueStore, STORE_FILES, changelogTopic, decodeChangelogEntry, encodeChangelogEntries } from '../../src/state/index.js';
import { pack, encodeValue } from '../../src/state/model/codec.js';
import { encodeLogFrame } from '../../src/state/store/frame-log.js';
import { ForeignIds, MAX_FOREIGN_CHARS, MAX_FOREIGN_ID_CHARS, MAX_FOREIGN_IDS, MAX_FOREIGN_JOURNALS } from '../../src/state/store/foreign-ids.js';
import { startTestBroker } from '../helpers/broker.js';
import { tempDir } from './helpers.js';

// Applied ids of another journal than the restoring store's (a partition taken over from another instance) are
// kept, bounded, and re-published tagged with their journal, so that journal's own later restore still knows
// which of its records were applied (docs/state.md, "Changelog topic and restore"; src/state/store/foreign-ids.ts).

const JA = 'aaaaaaaaaaaaaaaa';
const JB = 'bbbbbbbbbbbbbbbb';

async function setup(t: { after(fn: () => Promise<void> | void): void }) {
  const node = await startTestBroker();
  const { dir, cleanup } = await tempDir();
  const client = new WalrusClient({ nodes: [node.address], retry: { retries: 0 } });
  t.after(async () => { await client.close(); await node.close(); await cleanup(); });
  const topic = changelogTopic('app', 'totals');
  await client.register(topic);
  const open = (sub: string, journal: string | undefined) => KeyValueStore.open({
    dir: join(dir, sub), name: 'totals', fsync: 'never', ...(journal === undefined ? {} : { journal }),
    changelog: { publish: (entries) => client.putMany(topic, entries) },
  });
  /** Reads (consuming) everything on the changelog topic. */
  const drain = async (): Promise<string[]> => {
    const out: string[] = [];
    for (let got = await client.getMany(topic, 1000); got.length > 0; got = await client.getMany(topic, 1000)) out.push(...got.map((b) => b.toString('utf8')));
    return out;
  };
  return { dir, client, topic, open, drain };
}

/** A fetch handing out `entries` in batches of `size`, then nothing (a destructive read, as on a stock node). */
function batches(entries: readonly string[], size = 500): () => Promise<string[]> {
  let at = 0;
  return async () => {
    const out = entries.slice(at, at + size);
    at += size;
    return out;
  };
}

async function commit(store: KeyValueStore, key: string, value: number, id: string): Promise<void> {
  const cs = store.changeSet();
  cs.put(key, value);
  await store.commit(cs, [id]);
}

/** Journal → ids, as the entries carry them (in order). */
function idsByJournal(entries: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const entry of entries) {
    const applied = decodeChangelogEntry(entry)?.applied;
    if (applied === undefined) continue;
    out.set(applied.journal, [...(out.get(applied.journal) ?? []), ...applied.ids]);
  }
  return out;
}

test('a takeover\'s restore keeps the former owner\'s ids and re-publishes them tagged with its journal: the former owner\'s own restore finds them', async (t) => {
  const { client, topic, open, drain } = await setup(t);
  const a = await open('a', JA);
  for (let i = 0; i < 10; i += 1) await commit(a, `k${i % 3}`, i, `${i + 1}:0`);
  await a.close();

  // B takes the partition over: a leased restore of A's changelog, a re-publish, commits of its own.
  const b = await open('b', JB);
  await b.restoreFromChangelog(() => client.lease(topic, 4), undefined, topic, async () => (await client.state(topic)).openLeases);
  assert.equal(b.hasApplied('10:0'), false, 'A\'s ids name A\'s records, never B\'s');
  await commit(b, 'k0', 100, '1:0');
  await b.close();

  const published = await drain();
  const tagged = idsByJournal(published);
  assert.deepEqual(tagged.get(JA), Array.from({ length: 10 }, (_, i) => `${i + 1}:0`), 'B\'s re-publish carries A\'s ids, tagged with A\'s journal');
  assert.deepEqual(tagged.get(JB), ['1:0']);
  const idsOnly = published.map((e) => decodeChangelogEntry(e)!).filter((d) => d.applied?.journal === JA);
  assert.ok(idsOnly.length > 0 && idsOnly.every((d) => d.writes.length === 0), 'in entries of their own, without writes');

  // A again, on a fresh directory (its claim was taken): its ids are its own again, B's are not.
  const back = await open('a-again', JA);
  await back.restoreFromChangelog(batches(published, 3));
  for (let i = 1; i <= 10; i += 1) assert.ok(back.hasApplied(`${i}:0`), `A's record ${i}:0 is known applied`);
  assert.deepEqual(back.range().map((e) => [e.key, e.value]), [['k0', 100], ['k1', 7], ['k2', 8]]);
  await back.close();
  // And B's ids went on with A's re-publish, tagged with B's journal.
  assert.deepEqual(idsByJournal(await drain()).get(JB), ['1:0']);
});

test('other journals\' ids survive a restart of the store that holds them: from its snapshot, and from its log when the restore was cut short', async (t) => {
  const { dir, open, drain } = await setup(t);
  const fromA = encodeChangelogEntries('totals', 1, [['k', encodeValue('totals', 'k', 1)]], { journal: JA, ids: ['7:0', '7:1'] });

  // Snapshot: restored, closed; reopened with its changelog cursor gone, it re-publishes its whole state.
  const b = await open('b', JB);
  await b.restoreFromChangelog(batches(fromA));
  await b.close();
  await drain();
  await rm(join(dir, 'b', STORE_FILES.changelogCursor));
  const reopened = await open('b', JB);
  await reopened.close();
  assert.deepEqual(idsByJournal(await drain()).get(JA), ['7:0', '7:1'], 'from the snapshot');

  // Log: the restore stored its first batch, then stopped; the resumed restore re-publishes what the log holds.
  const c = await open('c', JB);
  let calls = 0;
  await assert.rejects(c.restoreFromChangelog(async () => {
    if (++calls === 2) throw new Error('stopped');
    return fromA;
  }), /stopped/);
  await c.close();
  const resumed = await open('c', JB);
  assert.equal(resumed.restoreIncomplete, true);
  await resumed.restoreFromChangelog(async () => []);
  await resumed.close();
  assert.deepEqual(idsByJournal(await drain()).get(JA), ['7:0', '7:1'], 'from the log');
});

test('a changelog with more ids and journals than the bound restores, and keeps only the newest', { timeout: 60_000 }, async (t) => {
  const { open, drain } = await setup(t);
  const entries: string[] = [];
  // Oldest: 100 journals of one id each; then A's 70,000 ids; then ids and a journal no store makes (too long).
  for (let i = 0; i < 100; i += 1) entries.push(...encodeChangelogEntries('totals', 1, [], { journal: `old${String(i).padStart(13, '0')}`, ids: ['1:0'] }));
  const aIds = Array.from({ length: 70_000 }, (_, i) => `${i + 1}:0`);
  entries.push(...encodeChangelogEntries('totals', 2, [['k', encodeValue('totals', 'k', 1)]], { journal: JA, ids: aIds }));
  entries.push(...encodeChangelogEntries('totals', 3, [], { journal: 'x'.repeat(10_000), ids: ['1:0'] }));
  entries.push(...encodeChangelogEntries('totals', 4, [], { journal: JA, ids: ['9'.repeat(5_000)] }));

  const b = await open('b', JB);
  await b.restoreFromChangelog(batches(entries, 50));
  assert.deepEqual(b.range().map((e) => [e.key, e.value]), [['k', 1]]);
  await b.close();
  const tagged = idsByJournal(await drain());
  const total = [...tagged.values()].reduce((n, ids) => n + ids.length, 0);
  assert.equal(total, MAX_FOREIGN_IDS, 'at most the bound of ids');
  assert.ok(tagged.size <= MAX_FOREIGN_JOURNALS, `at most ${MAX_FOREIGN_JOURNALS} journals (${tagged.size})`);
  assert.equal(tagged.has(`old${'0'.repeat(13)}`), false, 'the oldest journal is forgotten');
  assert.ok(![...tagged.keys()].some((j) => j.length > 128), 'a journal name no store makes is not kept');
  assert.deepEqual(tagged.get(JA), aIds.slice(-MAX_FOREIGN_IDS), 'A\'s newest ids, in order; the over-long one dropped');
});

test('ForeignIds: the journal that gained ids least recently goes first, a re-added id becomes the newest', () => {
  const ids = new ForeignIds();
  for (let j = 0; j < MAX_FOREIGN_JOURNALS + 2; j += 1) ids.add(`j${j}`, [`${j}:0`]);
  assert.equal(ids.journals, MAX_FOREIGN_JOURNALS);
  assert.ok(!ids.has('j0', '0:0') && !ids.has('j1', '1:0') && ids.has('j2', '2:0'));
  ids.add('j2', ['2:1']); // j2 is now the newest journal, j3 the oldest
  ids.add(JA, Array.from({ length: MAX_FOREIGN_IDS }, (_, i) => `${i}:0`));
  assert.equal(ids.size, MAX_FOREIGN_IDS);
  assert.deepEqual(ids.list().map(([j]) => j), [JA], 'every older journal gave way to A\'s newer ids');
  ids.add(JB, ['1:0']);
  ids.add(JA, ['1:0']);
  assert.equal(ids.has(JA, '0:0'), false, 'A\'s oldest id went to make room for B\'s');
  assert.deepEqual(ids.list().at(-1)![1].slice(-2), [`${MAX_FOREIGN_IDS - 1}:0`, '1:0'], 're-added: the newest');
});

test('snapshot and log files written before other journals\' ids were kept load as before', async (t) => {
  const { dir, open, drain } = await setup(t);
  const store = join(dir, 'old');
  await mkdir(store, { recursive: true });
  // The layouts earlier versions wrote: a snapshot {v, n, seq, keys, values, applied}, log frames {n, s, w, c}.
  await writeFile(join(store, STORE_FILES.snapshot), encodeLogFrame(pack({
    v: 1, n: 'totals', seq: 2, keys: ['a', 'b'], values: [encodeValue('totals', 'a', 1), encodeValue('totals', 'b', 2)], applied: ['1:0', '2:0'],
  })));
  await writeFile(join(store, STORE_FILES.log), Buffer.concat([
    encodeLogFrame(pack({ n: 'totals', s: 3, w: [['c', encodeValue('totals', 'c', 3)]], c: ['3:0'] })),
    encodeLogFrame(pack({ n: 'totals', s: 4, w: [['a', null]], c: ['4:0'] })),
  ]));
  const old = await open('old', JB);
  assert.deepEqual(old.range().map((e) => [e.key, e.value]), [['b', 2], ['c', 3]]);
  assert.equal(old.seq, 4);
  for (const id of ['1:0', '2:0', '3:0', '4:0']) assert.ok(old.hasApplied(id), id);
  await old.close();
  // It re-published (no changelog cursor): its own ids, and no other journal's.
  assert.deepEqual([...idsByJournal(await drain()).keys()], [JB]);
});

test('ForeignIds: long ids are bounded by their characters too, not only by their count (the oldest go first)', () => {
  const ids = new ForeignIds();
  // Ids of the longest kept length: the count bound alone would let 65,536 of them take 64 MiB.
  const long = (i: number) => `${i}:`.padEnd(MAX_FOREIGN_ID_CHARS, 'x');
  const n = Math.ceil(MAX_FOREIGN_CHARS / MAX_FOREIGN_ID_CHARS) * 3;
  ids.add(JA, Array.from({ length: n }, (_, i) => long(i)));
  assert.ok(ids.chars <= MAX_FOREIGN_CHARS, `${ids.chars} characters kept`);
  assert.equal(ids.size, Math.floor(MAX_FOREIGN_CHARS / MAX_FOREIGN_ID_CHARS));
  assert.ok(ids.has(JA, long(n - 1)) && !ids.has(JA, long(0)), 'the newest kept, the oldest gone');
  // Short ids again: the count is then the bound, and the characters are counted down as ids go.
  ids.add(JB, Array.from({ length: MAX_FOREIGN_IDS }, (_, i) => `${i}:0`));
  assert.equal(ids.size, MAX_FOREIGN_IDS);
  assert.equal(ids.chars, ids.list().reduce((a, [, list]) => a + list.reduce((b, id) => b + id.length, 0), 0));
});
