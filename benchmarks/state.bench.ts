/**
 * State benchmark: stateful count by key (stage + commit per record, the way
 * the runtime drives a store), windowed revenue, and restore speed from a
 * changelog, in records/s.
 *
 *   npm run bench:state
 *   BENCH_RECORDS=400000 npm run bench:state
 *
 * "count by key" rows run the whole state path of one record: read the key's
 * value, compute, stage the change, commit it durably (group commit), and
 * (in the changelog rows) publish it to an embedded Walrus node over TCP
 * before the commit resolves. Figures are noisy on a shared machine.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../src/broker/index.js';
import { WalrusClient } from '../src/client/index.js';
import { Journal } from '../src/journal/index.js';
import { throughWorkers } from './state-workers.js';
import { KeyValueStore, KeyedAggregation, WindowedAggregation, fromField, tumbling, type ChangelogOptions } from '../src/state/index.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const KEYS = 1_000;
/** Records staged but not yet committed, like the runtime's in-flight window. */
const IN_FLIGHT = 2_000;

interface Row { [column: string]: string }

function table(title: string, rows: Row[]): void {
  const columns = Object.keys(rows[0]!);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padStart(widths[i]!)).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(columns));
  console.log(`|${widths.map((w) => '-'.repeat(w + 1) + ':').join('|')}|`);
  for (const row of rows) console.log(line(columns.map((c) => row[c]!)));
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-state-bench-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Drives `step` for every record with at most IN_FLIGHT uncommitted, returns records/s. */
async function drive(store: KeyValueStore, step: (i: number) => Parameters<KeyValueStore['commit']>[0]): Promise<number> {
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < RECORDS; i++) {
    pending.push(store.commit(step(i)));
    if (pending.length >= IN_FLIGHT) await Promise.all(pending.splice(0, IN_FLIGHT / 2));
  }
  await Promise.all(pending);
  return RECORDS / ((performance.now() - start) / 1000);
}

async function countByKey(fsync: 'always' | 'never', changelog: ChangelogOptions | undefined, label: string): Promise<Row> {
  return withDir(async (dir) => {
    const store = await KeyValueStore.open({ dir, name: 'counts', fsync, changelog });
    const counter = KeyedAggregation.count<number>(store);
    const rate = await drive(store, (i) => counter.process({ key: `customer-${i % KEYS}`, value: i }, [`${i}:0`]).staged);
    const total = store.range<number>().reduce((s, e) => s + e.value, 0);
    if (total !== RECORDS) throw new Error(`count mismatch: ${total} != ${RECORDS}`);
    await store.close();
    return { scenario: 'count by key', fsync, changelog: label, records: fmt(RECORDS), 'records/s': fmt(rate) };
  });
}

async function windowed(fsync: 'always' | 'never'): Promise<Row> {
  return withDir(async (dir) => {
    const store = await KeyValueStore.open({ dir, name: 'revenue', fsync });
    const agg = new WindowedAggregation<{ ts: number; amount: number }, number>(store, {
      windows: tumbling(60_000), graceMs: 5_000, eventTime: fromField('ts'), init: () => 0, aggregate: (s, o) => s + o.amount,
    });
    let closed = 0;
    const rate = await drive(store, (i) => {
      // 1,000 records per event-time second: windows close every 60k records.
      const step = agg.process({ key: `customer-${i % KEYS}`, value: { ts: i, amount: 1 }, headers: {}, timestamp: 0 }, [`${i}:0`]);
      closed += step.closed.length;
      return step.staged;
    });
    await store.close();
    return { scenario: 'revenue per key per minute', fsync, changelog: 'none', records: fmt(RECORDS), 'records/s': fmt(rate), 'windows closed': fmt(closed) };
  });
}

/**
 * The whole stateful path without the worker pool: BATCH_GET from a source
 * topic → journal append (group fsync) → count by key → outputs BATCH_PUT to a
 * sink topic → state commit (fsync + changelog on the node) → journal release.
 */
async function pipeline(client: WalrusClient): Promise<Row> {
  return withDir(async (dir) => {
    const source = 'bench-orders';
    await client.register(source);
    await client.register('bench-counts');
    const changelog = 'bench-pipeline-changelog';
    await client.register(changelog);
    const payloads = Array.from({ length: RECORDS }, (_, i) => JSON.stringify({ customer: `customer-${i % KEYS}`, amount: i % 100 }));
    for (let i = 0; i < payloads.length; i += 10_000) await client.putMany(source, payloads.slice(i, i + 10_000));
    const journal = await Journal.open({ dir: join(dir, 'journal'), fsync: 'always' });
    const store = await KeyValueStore.open({ dir: join(dir, 'store'), name: 'counts', changelog: { publish: (e) => client.putMany(changelog, e) } });
    const counter = KeyedAggregation.count<unknown>(store);
    const start = performance.now();
    let done = 0;
    const inFlight: Promise<void>[] = [];
    for (let batch = await client.getMany(source, 2_000); batch.length > 0; batch = await client.getMany(source, 2_000)) {
      const seqs = await journal.append(batch.map((entry) => ({ source, entry })));
      const steps = batch.map((entry, i) => {
        const order = JSON.parse(entry.toString('utf8')) as { customer: string };
        return counter.process({ key: order.customer, value: order }, [`${seqs[i]}:0`]);
      });
      // Outputs, commit and release of this batch overlap with fetching and processing the next one.
      inFlight.push((async () => {
        await client.putMany('bench-counts', steps.map((s) => `${s.key} ${s.value}`));
        await Promise.all(steps.map((s) => store.commit(s.staged)));
        await journal.release(seqs);
        store.markReleased(seqs.map((seq) => `${seq}:0`));
        done += batch.length;
      })());
      if (inFlight.length >= 4) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const rate = done / ((performance.now() - start) / 1000);
    const total = store.range<number>().reduce((sum, e) => sum + e.value, 0);
    if (total !== RECORDS || done !== RECORDS) throw new Error(`pipeline count mismatch: ${total} counted, ${done} released, ${RECORDS} produced`);
    await store.close();
    await journal.close();
    return { scenario: 'fetch → journal → count → sink → commit → release', fsync: 'always', changelog: 'embedded node', records: fmt(done), 'records/s': fmt(rate) };
  });
}

/** Open time from a log of RECORDS commits, snapshot (compact) time, open time from the snapshot. */
async function localRecovery(): Promise<Row[]> {
  return withDir(async (dir) => {
    const keys = Math.min(RECORDS, 100_000);
    let store = await KeyValueStore.open({ dir, name: 'big', fsync: 'never', snapshotEveryBytes: Number.MAX_SAFE_INTEGER });
    await drive(store, (i) => {
      const cs = store.changeSet();
      cs.put(`key-${String(i % keys).padStart(6, '0')}`, { n: i, note: 'some value' });
      return cs;
    });
    await store.close();
    let t0 = performance.now();
    store = await KeyValueStore.open({ dir, name: 'big', fsync: 'never' });
    const fromLog = performance.now() - t0;
    t0 = performance.now();
    await store.compact();
    const compact = performance.now() - t0;
    await store.close();
    t0 = performance.now();
    store = await KeyValueStore.open({ dir, name: 'big', fsync: 'never' });
    const fromSnapshot = performance.now() - t0;
    await store.close();
    return [
      { step: `open: replay a log of ${fmt(RECORDS)} commits`, keys: fmt(keys), ms: fmt(fromLog), 'commits/s': fmt(RECORDS / (fromLog / 1000)) },
      { step: 'compact: write the snapshot', keys: fmt(keys), ms: fmt(compact), 'commits/s': '' },
      { step: 'open: load the snapshot', keys: fmt(keys), ms: fmt(fromSnapshot), 'commits/s': '' },
    ];
  });
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  rows.push(await countByKey('never', undefined, 'none'));
  rows.push(await countByKey('always', undefined, 'none'));

  const brokerDir = await mkdtemp(join(tmpdir(), 'walrus-state-bench-node-'));
  const node = await startBroker({ host: '127.0.0.1', port: 0, dataDir: brokerDir, fsync: 'never' });
  const client = new WalrusClient({ nodes: [node.address] });
  const topic = 'bench-counts-changelog';
  await client.register(topic);
  const captured: string[] = [];
  try {
    rows.push(await countByKey('always', { publish: (entries) => client.putMany(topic, entries) }, 'embedded node'));
    rows.push(await pipeline(client));
    table(`Stateful count by key (${KEYS} keys, ${IN_FLIGHT} in flight)`, rows);
    table('Windowed aggregation (tumbling 1 min, grace 5 s)', [await windowed('always')]);

    // Restore: from the changelog the previous row produced on the node (GET-destructive, via BATCH_GET),
    // then from an in-memory list (the pure apply + local write cost).
    const restoreRows: Row[] = [];
    await withDir(async (dir) => {
      const store = await KeyValueStore.open({ dir, name: 'counts', changelog: { publish: async (e) => { captured.push(...e); } } });
      const report = await store.restoreFromChangelog(() => client.getMany(topic, 2_000));
      restoreRows.push({ source: 'embedded node (BATCH_GET)', entries: fmt(report.entries), 'writes replayed': fmt(report.writes), keys: fmt(report.keys), 'writes/s': fmt(report.writes / (report.durationMs / 1000)), ms: fmt(report.durationMs) });
      await store.close();
    });
    // An in-memory changelog of per-record commits (no flush-level dedupe: every record a separate commit) for the pure apply + local write cost.
    const list: string[] = [];
    await withDir(async (dir) => {
      const store = await KeyValueStore.open({ dir, name: 'counts', fsync: 'never', changelog: { publish: async (e) => { list.push(...e); } } });
      const counter = KeyedAggregation.count<number>(store);
      for (let i = 0; i < RECORDS; i++) await store.commit(counter.process({ key: `customer-${i % KEYS}`, value: i }).staged);
      await store.close();
    });
    await withDir(async (dir) => {
      const store = await KeyValueStore.open({ dir, name: 'counts' });
      let offset = 0;
      const report = await store.restoreFromChangelog(async () => list.slice(offset, (offset += 2_000)));
      restoreRows.push({ source: 'in-memory list', entries: fmt(report.entries), 'writes replayed': fmt(report.writes), keys: fmt(report.keys), 'writes/s': fmt(report.writes / (report.durationMs / 1000)), ms: fmt(report.durationMs) });
      await store.close();
    });
    table('Restore from changelog (writes replayed = key updates in the changelog)', restoreRows);
    table('Local recovery and compaction', await localRecovery());
  } finally {
    await client.close();
    await node.close();
    await rm(brokerDir, { recursive: true, force: true });
  }
}

/** The runtime's whole stateful path through real worker threads (benchmarks/state-workers.ts). */
async function workersRows(): Promise<void> {
  const n = Number(process.env.BENCH_E2E_RECORDS ?? RECORDS);
  const { run, restore } = await throughWorkers(n, KEYS, Number(process.env.BENCH_WORKERS ?? 2));
  table(`End to end through real workers (${KEYS} keys; walrus-stream run's path)`, run);
  table('Restore through the runtime into an empty state dir', restore);
}

// BENCH_ONLY=workers runs only the end-to-end rows.
if (process.env.BENCH_ONLY !== 'workers') await main();
await workersRows();
