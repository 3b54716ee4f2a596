import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore, storeDir } from '../../src/state/index.js';
import { runCli, stateFixture } from '../state/run-cli.js';
import { harness } from './harness.js';
import { encodeValue } from '../../src/state/model/codec.js';
import type { StagedChange } from '../../src/state/model/staged-change.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { RuntimeState } from '../../src/runtime/state/runtime-state.js';
import { Ticket } from '../../src/runtime/coordinator/ticket.js';
import type { Job } from '../../src/runtime/coordinator/stage-runner.js';
import type { JournalLike } from '../../src/runtime/pipeline/pipeline-io.js';

/**
 * One source record fans out (a stateless `split` emits two records of its
 * key) into a stateful count. Each derived record must have its own state
 * id: with one id for both, a restart after only one of them was committed
 * skips the other as "applied" and loses its update and output.
 *
 * An entry's changes to one store are committed together (`commitAll`, one
 * log write when nothing outside the entry holds them back), so a kill -9
 * rarely splits two derived records any more. The first test makes that
 * split happen at the state layer on purpose; the second kills a real run
 * and checks the restart is exact whatever the kill caught.
 */
const N = 24;
const PARTS = 2;
const keyOf = (i: number) => `k-${i % 3}`;

test('fan-out ids: of two records derived from one entry, the one committed before a crash is skipped on recovery and the other is not', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const { topology } = await loadTopologyText(`
app: fanout-ids
stateDir: ${JSON.stringify(join(h.stateDir, 'ids'))}
sources:
  events: { topic: fanout-ids.events }
processors:
  split: { module: ${JSON.stringify(stateFixture('split.ts'))}, input: events, ordering: key }
  count: { module: ${JSON.stringify(stateFixture('part-count.ts'))}, input: split, ordering: key, stores: [counts] }
sinks:
  out: { topic: fanout-ids.out, input: count }
stores:
  counts: { fsync: never }
`, join(h.stateDir, 'topology.yaml'));
  const SEQ = 7;
  const journal: JournalLike = { append: async () => [], release: async () => undefined, unreleased: () => [{ seq: SEQ, source: 'events', entry: Buffer.from('x') }] };
  let state = (await RuntimeState.open(topology, h.client))!;
  const entryMeta = () => ({ ticket: new Ticket(SEQ, 'events', 1, () => undefined), index: 0 });
  const meta = entryMeta();
  const derived = [0, 1].map((position) => state.derive('split', meta, position));
  const job = (m: object, n: number): Job => ({ record: { id: `r${n}`, key: 'k', value: n, headers: {}, timestamp: 0, source: 'split.default' }, key: 'k', attempt: 1, entry: 0, meta: m });
  // Both derived records are processed and staged, in order, on the entry's ticket.
  for (const [n, m] of derived.entries()) {
    const j = job(m, n);
    const sent = state.preload('count', j);
    const refused = state.accept('count', j, [{ store: 'counts', writes: [['k', encodeValue('counts', 'k', n + 1)]] }], sent);
    assert.equal(refused, undefined);
  }
  // The crash: only the first derived record's change reached the log.
  const staged = meta.ticket.stateChanges as Array<{ change: StagedChange }>;
  assert.equal(staged.length, 2);
  await state.stores.get('counts')!.storeFor('k').commit(staged[0]!.change);
  await state.close();
  // Restart: the entry is still in the journal.
  state = (await RuntimeState.open(topology, h.client))!;
  t.after(() => state.close());
  state.recover(journal);
  const again = entryMeta();
  const applied = [0, 1].map((position) => state.alreadyApplied('count', state.derive('split', again, position)));
  assert.deepEqual(applied, [true, false], 'the first derived record is applied, the second is processed again');
  assert.equal(state.stores.get('counts')!.get('k'), 1);
});

test('fan-out into a stateful step: kill -9 during the commits, restart: every derived record counted once, every output from the state just before it', { timeout: 90_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const stateDir = join(h.stateDir, 'state');
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: fanout
stateDir: ${JSON.stringify(stateDir)}
sources:
  events: { topic: fanout.events, poll: { batchSize: 1 } }
processors:
  split:
    module: ${JSON.stringify(stateFixture('split.ts'))}
    input: events
    ordering: key
    config: { parts: ${PARTS} }
  count:
    module: ${JSON.stringify(stateFixture('part-count.ts'))}
    input: split
    ordering: key
    stores: [counts]
sinks:
  out: { topic: fanout.out, input: count, batch: { maxRecords: 1 } }
stores:
  counts: { fsync: never }
journal: { fsync: never }
`);
  await h.produce('fanout.events', Array.from({ length: N }, (_, i) => ({ key: keyOf(i), value: { i } })), 1);
  const args = ['run', file, '--nodes', h.broker.address, '--until-idle', '--workers', '1', '--max-in-flight', '1', '--progress-interval', '0'];

  // The 15th log write of the store, well into the run.
  const killed = await runCli(args, { fault: 'state.log-written:15' });
  assert.equal(killed.signal, 'SIGKILL', `killed at the fault point (exit ${killed.code}); stderr:\n${killed.stderr}`);
  assert.match(killed.stderr, /WALRUS_STREAM_FAULT: SIGKILL at state\.log-written/);

  const dir = storeDir(stateDir, 'fanout', 'counts');

  const again = await runCli(args);
  assert.equal(again.code, 0, `restart finished; stderr:\n${again.stderr}`);

  const records = new Map<string, number>();
  const want = new Map<string, number>(); // `${i}/${part}` → the key's count including it
  for (let i = 0; i < N; i++) {
    const seen = records.get(keyOf(i)) ?? 0;
    records.set(keyOf(i), seen + 1);
    for (let part = 0; part < PARTS; part++) want.set(`${i}/${part}`, seen * PARTS + part + 1);
  }
  const store = await KeyValueStore.open({ dir, name: 'counts' });
  const state = new Map(store.range<number>().map((e) => [e.key, e.value]));
  await store.close();
  assert.deepEqual(state, new Map([...records].map(([k, n]) => [k, n * PARTS])), 'every derived record counted exactly once');

  const outputs = (await h.drain('fanout.out')).map((o) => o.value as { i: number; part: number; n: number });
  const produced = new Set<string>();
  for (const o of outputs) {
    assert.equal(o.n, want.get(`${o.i}/${o.part}`), `output of record ${o.i} part ${o.part}`);
    produced.add(`${o.i}/${o.part}`);
  }
  assert.equal(produced.size, N * PARTS, 'every derived record produced its output');
});
