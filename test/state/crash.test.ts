import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeyValueStore } from '../../src/state/index.js';
import { tempDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url));
const N = 2_000;
const K = 7;

interface Run { acked: number[]; done: boolean }

/** Runs the child; kills it with SIGKILL after `killAfterMs` (or lets it finish when undefined). */
function runChild(dir: string, fsync: string, snapshotBytes: number, killAfterMs?: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(N), String(K), fsync, String(snapshotBytes)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      // Start the kill clock once the child is processing, so its startup time does not decide where it dies.
      if (killAfterMs !== undefined && timer === undefined) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    // A child that hangs must fail the test, not keep it (and the runner) alive.
    const deadline = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(deadline);
      if (signal === null && code !== 0) return reject(new Error(`child failed (${code}): ${err}`));
      void readFile(join(dir, 'acked.txt'), 'utf8').catch(() => '').then((acked) => resolve({
        acked: acked.split('\n').filter(Boolean).map(Number),
        done: out.split('\n').includes('done'),
      }));
    });
  });
}

async function released(dir: string): Promise<Set<number>> {
  try {
    return new Set((await readFile(join(dir, 'released.txt'), 'utf8')).split('\n').filter(Boolean).map(Number));
  } catch {
    return new Set();
  }
}

/** The invariant after any crash: the state holds exactly the records that are applied or released, each once. */
async function check(dir: string, acked: Set<number>): Promise<number> {
  const store = await KeyValueStore.open({ dir: join(dir, 'store'), name: 'counts' });
  const rel = await released(dir);
  const expected = new Map<number, { n: number; sum: number }>();
  let effective = 0;
  for (let i = 0; i < N; i++) {
    const inState = rel.has(i) || store.hasApplied(`r${i}`);
    if (acked.has(i)) assert.ok(inState, `record ${i} was acknowledged but its update is lost`);
    if (!inState) continue;
    effective++;
    const e = expected.get(i % K) ?? { n: 0, sum: 0 };
    expected.set(i % K, { n: e.n + 1, sum: e.sum + i });
  }
  for (let k = 0; k < K; k++) {
    assert.deepEqual(store.get(`key${k}`), expected.get(k), `key${k}: state must hold each applied record exactly once`);
  }
  await store.close();
  return effective;
}

for (const [fsync, snapshotBytes] of [['never', 16_384], ['always', 1_000_000]] as const) {
  test(`kill -9 at random points (fsync ${fsync}, snapshot every ${snapshotBytes} B): no lost or double-applied updates`, { timeout: 120_000 }, async (t) => {
    const { dir, cleanup } = await tempDir('ws-state-crash-');
    t.after(cleanup);
    const acked = new Set<number>();
    let kills = 0;
    for (let round = 0; round < 4; round++) {
      const run = await runChild(dir, fsync, snapshotBytes, 5 + Math.floor(Math.random() * 60));
      for (const i of run.acked) acked.add(i);
      if (!run.done) kills++;
      if (process.env.STATE_CRASH_DEBUG) console.log(`round ${round}: acked ${run.acked.length} done=${run.done}`);
      await check(dir, acked);
      if (run.done) break;
    }
    const last = await runChild(dir, fsync, snapshotBytes);
    assert.ok(last.done);
    for (const i of last.acked) acked.add(i);
    assert.equal(await check(dir, acked), N, 'after the final run every record is applied exactly once');
    assert.ok(kills > 0, 'at least one run was killed mid-way');
  });
}
