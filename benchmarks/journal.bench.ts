/**
 * Journal benchmark: appends/s and releases/s by fsync mode, entry size and
 * batch size (items per call), group commit under concurrent callers, and
 * recovery time with 10k unreleased entries.
 *
 *   npm run bench:journal            # ~0.5 s per row
 *   BENCH_MS=2000 npm run bench:journal
 *
 * Figures are noisy on a shared machine; compare rows of one run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, type JournalFsync } from '../src/journal/index.js';

const BENCH_MS = Number(process.env.BENCH_MS ?? 500);

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-journal-bench-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Row {
  [column: string]: string;
}

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

/** Appends for BENCH_MS with `callers` concurrent loops of `batch` items each, then releases everything the same way. */
async function throughput(fsync: JournalFsync, entryBytes: number, batch: number, callers: number): Promise<Row> {
  return withDir(async (dir) => {
    const journal = await Journal.open({ dir, fsync });
    const entry = Buffer.alloc(entryBytes, 97);
    const items = Array.from({ length: batch }, () => ({ source: 'orders', entry }));
    const seqs: number[][] = [];
    const appendStart = performance.now();
    const deadline = appendStart + BENCH_MS;
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (performance.now() < deadline) seqs.push(await journal.append(items));
      }),
    );
    const appendMs = performance.now() - appendStart;
    const appended = seqs.length * batch;
    const writes = journal.stats().writes;
    const releaseStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (next < seqs.length) await journal.release(seqs[next++]!);
      }),
    );
    const releaseMs = performance.now() - releaseStart;
    await journal.close();
    return {
      fsync,
      entry: `${entryBytes} B`,
      'items/call': String(batch),
      callers: String(callers),
      'appends/s': fmt((appended / appendMs) * 1000),
      'MB/s': ((appended * entryBytes) / appendMs / 1000).toFixed(1),
      'items/write': (appended / writes).toFixed(1),
      'releases/s': fmt((appended / releaseMs) * 1000),
    };
  });
}

async function recovery(entryBytes: number, unreleased: number): Promise<Row> {
  return withDir(async (dir) => {
    const writer = await Journal.open({ dir, fsync: 'never' });
    const entry = Buffer.alloc(entryBytes, 98);
    for (let i = 0; i < unreleased; i += 256) {
      const seqs = await writer.append(Array.from({ length: 256 }, () => ({ source: 'orders', entry })));
      // Interleave released traffic so recovery also has RELEASE records to apply.
      const released = await writer.append(Array.from({ length: 256 }, () => ({ source: 'orders', entry })));
      await writer.release(released);
      void seqs;
    }
    const { bytes, segments } = writer.stats();
    await writer.close();
    const started = performance.now();
    const journal = await Journal.open({ dir });
    const found = journal.unreleased().length;
    const ms = performance.now() - started;
    await journal.close();
    return {
      entry: `${entryBytes} B`,
      unreleased: fmt(found),
      'journal size': `${(bytes / 1024 / 1024).toFixed(1)} MiB`,
      segments: String(segments),
      'open + recover': `${ms.toFixed(0)} ms`,
    };
  });
}

const rows: Row[] = [];
for (const fsync of ['batch', 'never'] as const) {
  for (const entryBytes of [100, 1024]) {
    for (const batch of [1, 64, 256]) rows.push(await throughput(fsync, entryBytes, batch, 1));
  }
}
table(`Sequential append/release (one caller), ${BENCH_MS} ms per row`, rows);

const group: Row[] = [];
for (const callers of [1, 16, 64]) group.push(await throughput('batch', 1024, 1, callers));
table('Group commit: concurrent single-item appends, fsync batch, 1 KiB entries', group);

table('Recovery', [await recovery(100, 10_000), await recovery(1024, 10_000)]);
